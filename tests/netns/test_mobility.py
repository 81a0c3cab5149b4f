"""Mobility (issue 4): an application's session survives real address changes.

Every test runs `ntm-test-node mobile-transfer` (tests/integration/test_node_mobile.cc) between two
nodes: one TCP connection carrying a checksummed stream each way at a steady pace (RATE_MBPS),
with an application-level ACK (the server echoes how many client bytes it has read), plus a UDP
stream of numbered datagrams each way. During the transfer a node's veth is deleted and the node
is attached elsewhere with a new address (Topology.move). The transfer must complete on the same
connection (connections=1, no second connection at the server) with matching SHA-256 both ways,
and the UDP stream must resume after the move.

Servers (ntm-server: AS/DC/RS) run in the servers namespace as in test_matrix.py; the nodes run
in control-plane mode (client `alice.example` resolves `bob.example`), except the forged-packet
test, which uses static-peer mode (no DC involved, the engine alone must ignore the forgery).

Timing: the client prints `ACK t=...` lines (CLOCK_MONOTONIC, shared by all namespaces) when the
server's acknowledged byte count grows. The recovery time of a move is the first such increase
after the old link was deleted, minus the moment the new address and default route were
configured (Topology.attach's return value). The tests print these times in the summary table;
bench/mobility.py repeats the two-NAT move for the seed's Table 2. NTM_MOBILITY_VERBOSE=1 (with
pytest -s) prints each run's moves, events, paths and library log also when it passes.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Optional

import pytest

from netns_helpers import fields, report_table
from ntm_node import (CLIENT_TO_SERVER_SEED, SERVER_TO_CLIENT_SEED, make_identity,
                      missing_binaries, node_program, stream_sha256)
from topology import (SERVERS_IPV4, SERVERS_IPV6, Nat, Node, NsProcess, Topology, endpoint)
from test_matrix import AS_PORT, DOMAIN, PASSWORD, server_program, start_servers

RATE_MBPS = 20.0            # each direction
UDP_INTERVAL_MS = 10        # one datagram each way every 10 ms
STALL_S = 10                # the node gives up (ERROR what=stalled) after this long without progress
RECOVERY_BOUND_S = 10.0     # the driver's bound on one move's recovery
PATH_BOUND_S = 10.0         # ... on the path (relay/direct, new endpoint) being reported
SETTLE_S = 1.0              # transfer time after a recovery, before the next move / the end
DAD_RESUME_BOUND_MS = 300   # data resumes once a tentative address is usable (not at a retry)
STATIC_PORT = 4500          # static-peer mode: the server's real UDP port

_latencies: dict = {}       # (test, move) -> text, for the summary table


@pytest.fixture(autouse=True)
def _binaries():
    missing = missing_binaries()
    if missing:
        pytest.fail(f"ntmobile build not found: {missing} (build first, or set NTM_BUILD_DIR)")
    assert server_program() is not None, "ntm-server not built"


@pytest.fixture
def servers(topo, tmp_path):
    state = str(tmp_path / "state")
    os.makedirs(state)
    start_servers(topo, state)
    return state


# ---- the driver ------------------------------------------------------------------------------

@dataclass
class Move:
    label: str
    t_before: float             # monotonic time before the old link was deleted
    t_detached: float           # the old link is gone (nothing can use the old path after this)
    t_configured: float         # the new address and default route are configured
    recovered_at: Optional[float] = None   # first ACK increase after t_detached
    acked_before: int = 0       # acknowledged bytes before the move
    procs: tuple = ()           # the processes on the moved node(s)
    t_route: Optional[float] = None  # the new default route, as the moved node's host saw it

    @property
    def t_ref(self) -> float:
        """When "the new address is configured": the kernel's time of the new default route
        (attach's last step) as reported on the moved node's host; else the driver's time after
        the `ip` command returned, which is later by the command's exit and reaping (often
        milliseconds on a busy host)."""
        return self.t_route if self.t_route is not None else self.t_configured

    @property
    def latency_ms(self) -> Optional[float]:
        if self.recovered_at is None:
            return None
        return (self.recovered_at - self.t_ref) * 1000.0

    def describe(self) -> str:
        rec = (f"recovered {self.latency_ms:.1f} ms after configuration"
               if self.recovered_at is not None else "NOT recovered")
        route = (f"route seen by the node {1000 * (self.t_route - self.t_detached):.1f} ms after "
                 f"detach" if self.t_route is not None else "route not seen by the node")
        return (f"move {self.label}: detach took {1000 * (self.t_detached - self.t_before):.1f} ms,"
                f" attach {1000 * (self.t_configured - self.t_detached):.1f} ms, {route} "
                f"(t_ref={self.t_ref:.6f}), acked before {self.acked_before}, {rec}")


def _route_time(proc: NsProcess, after: float, before: float) -> Optional[float]:
    """The first new default route `proc`'s host reported in (after, before): kernel time."""
    for r in _rows(proc, "NETLINK"):
        if r.get("ev") == "newroute" and after < r["t"] < before:
            kt = float(r.get("kt", "0"))
            return kt if kt > 0 else r["t"]
    return None


def _rows(proc: NsProcess, word: str) -> list[dict]:
    out = []
    for line in proc.lines_starting(word + " "):
        f = fields(line)
        if "t" in f:
            f["t"] = float(f["t"])
        out.append(f)
    return out


class MobileRun:
    """bob (server role) and alice (client role) running mobile-transfer; moves; checks."""

    def __init__(self, t: Topology, server_node: Node, client_node: Node, *,
                 state_dir: Optional[str] = None, seconds: float = 6.0,
                 rate_mbps: float = RATE_MBPS, vfam: int = 4, log: str = "info"):
        self.t = t
        self.server_node = server_node
        self.client_node = client_node
        self.state_dir = state_dir            # None: static-peer mode
        self.rate_mbps = rate_mbps
        self.seconds = seconds
        self.nbytes = int(rate_mbps * 1e6 / 8 * seconds)
        self.vfam = vfam
        self.log = log
        self.moves: list[Move] = []
        self.srv: Optional[NsProcess] = None
        self.cli: Optional[NsProcess] = None
        self.server_name = f"bob.{DOMAIN}" if state_dir else "bob.test"
        self.client_name = f"alice.{DOMAIN}" if state_dir else "alice.test"
        self.server_ready: dict = {}

    # -- start --

    def _common(self, role: str) -> list[str]:
        argv = ["mobile-transfer", "--role", role, "--bytes", str(self.nbytes),
                "--rate-mbps", str(self.rate_mbps), "--udp-interval-ms", str(UDP_INTERVAL_MS),
                "--progress-ms", "100", "--stall-timeout", str(STALL_S),
                "--timeout", str(int(self.seconds + 90)), "--log", self.log]
        if self.vfam == 6:
            argv.append("-6")
        return argv

    def _cp_argv(self, node: Node, account: str, role: str) -> list[str]:
        as_ep = endpoint(SERVERS_IPV4 if node.ipv4 else SERVERS_IPV6, AS_PORT)
        return [node_program(), *self._common(role), "--server", as_ep,
                "--server-cert", os.path.join(self.state_dir, "as-tls.pem"),
                "--account", account, "--password", PASSWORD]

    def start(self, min_acked: Optional[int] = None) -> "MobileRun":
        """Starts both ends and returns once the transfer is in its steady state (min_acked
        bytes acknowledged; default: half a second's worth)."""
        if min_acked is None:
            min_acked = int(self.rate_mbps * 1e6 / 8 * 0.5)
        if self.state_dir:
            srv_argv = self._cp_argv(self.server_node, "bob", "server")
            cli_argv = self._cp_argv(self.client_node, "alice", "client")
        else:
            bob = make_identity("bob.test", "100.64.0.2", "fd00:6e74:6d::2")
            alice = make_identity("alice.test", "100.64.0.1", "fd00:6e74:6d::1")
            # Wildcard binds: the sockets outlive address changes. The server's port is fixed.
            srv_argv = [node_program(), *self._common("server"), "--name", bob.name,
                        "--key", bob.private_key, "--vip4", bob.vip4, "--vip6", bob.vip6,
                        "--listen", f"0.0.0.0:{STATIC_PORT}", "--listen", f"[::]:{STATIC_PORT}",
                        "--peer", alice.peer_spec("")]
            host = self.server_node.ipv4 or self.server_node.ipv6
            cli_argv = [node_program(), *self._common("client"), "--name", alice.name,
                        "--key", alice.private_key, "--vip4", alice.vip4, "--vip6", alice.vip6,
                        "--peer", bob.peer_spec(endpoint(host, STATIC_PORT))]
        self.srv = self.t.run(self.server_node, srv_argv, label="bob(server)")
        self.server_ready = fields(self.srv.wait_line("READY", timeout=20))
        cli_argv += ["--connect", f"{self.server_name}:5000"]
        self.cli = self.t.run(self.client_node, cli_argv, label="alice(client)")
        try:
            self.cli.wait_line("CONNECTED", timeout=20)
        except TimeoutError:
            raise AssertionError("the transfer did not start\n" + self.diag()) from None
        self.wait_acked(min_acked, timeout=10)
        return self

    # -- observation --

    def acks(self) -> list[tuple[float, int]]:
        return [(r["t"], int(r["acked"])) for r in _rows(self.cli, "ACK")]

    def acked_now(self) -> int:
        a = self.acks()
        return a[-1][1] if a else 0

    def _alive_or_fail(self, what: str) -> None:
        for p in (self.cli, self.srv):
            if p.poll() is not None and p.lines_starting("ERROR"):
                raise AssertionError(f"{p.label} failed while waiting for {what}\n" + self.diag())

    def wait_acked(self, nbytes: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.acked_now() < nbytes:
            self._alive_or_fail(f"{nbytes} acknowledged bytes")
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {nbytes} bytes acknowledged within {timeout} s"
                                     f"\n" + self.diag())
            time.sleep(0.02)

    # -- moves --

    def _proc_of(self, node: Node) -> NsProcess:
        return self.cli if node is self.client_node else self.srv

    def move(self, node: Node, target, label: str = "", **attach_kw) -> Move:
        """Moves `node` during the transfer (which must still be running) and records the times."""
        acked = self.acked_now()
        assert acked < self.nbytes and self.cli.poll() is None, \
            "the transfer ended before the move: make it longer\n" + self.diag()
        t_before = time.monotonic()
        self.t.detach(node)
        t_det = time.monotonic()
        t_cfg = self.t.attach(node, target, **attach_kw)
        m = Move(label or f"{node.name}->{getattr(target, 'name', target)}", t_before, t_det,
                 t_cfg, acked_before=acked, procs=(self._proc_of(node),))
        self.moves.append(m)
        return m

    def move_both(self, a: Node, a_to, b: Node, b_to) -> Move:
        """Both ends move at (nearly) the same time: two threads released together."""
        acked = self.acked_now()
        assert acked < self.nbytes and self.cli.poll() is None, \
            "the transfer ended before the move\n" + self.diag()
        go = threading.Barrier(2)
        times: dict = {}
        errors: list = []

        def one(node: Node, to) -> None:
            try:
                go.wait(timeout=5)
                t0 = time.monotonic()
                self.t.detach(node)
                t1 = time.monotonic()
                t2 = self.t.attach(node, to)
                times[node.name] = (t0, t1, t2)
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=one, args=(a, a_to)),
                   threading.Thread(target=one, args=(b, b_to))]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=30)
        assert not errors and len(times) == 2, f"moving both failed: {errors}"
        ta, tb = times[a.name], times[b.name]
        label = (f"{a.name}->{getattr(a_to, 'name', a_to)} + {b.name}->"
                 f"{getattr(b_to, 'name', b_to)} (configured {1000 * abs(ta[2] - tb[2]):.1f} ms "
                 f"apart)")
        m = Move(label, min(ta[0], tb[0]), max(ta[1], tb[1]), max(ta[2], tb[2]),
                 acked_before=acked, procs=(self._proc_of(a), self._proc_of(b)))
        self.moves.append(m)
        return m

    def wait_recovered(self, m: Move, timeout: float = RECOVERY_BOUND_S) -> float:
        """Waits for the first acknowledgement after the move; returns the latency in ms."""
        deadline = m.t_configured + timeout
        while True:
            after = [(t, a) for t, a in self.acks() if t > m.t_detached and a > m.acked_before]
            if after:
                m.recovered_at = after[0][0]
                # The moved hosts' view of the new default route (printed at once, normally).
                limit = time.monotonic() + 0.5
                while True:
                    seen = [_route_time(p, m.t_detached, m.t_configured + 2.0) for p in m.procs]
                    if all(x is not None for x in seen) or time.monotonic() > limit:
                        break
                    time.sleep(0.01)
                if seen and all(x is not None for x in seen):
                    m.t_route = max(seen)
                return m.latency_ms
            self._alive_or_fail(f"recovery from {m.label}")
            if self.cli.poll() is not None:
                raise AssertionError(f"client exited before recovering from {m.label}\n"
                                     + self.diag())
            if time.monotonic() > deadline:
                raise AssertionError(f"no data acknowledged within {timeout} s after {m.label} "
                                     f"(the node did not recover)\n" + self.diag())
            time.sleep(0.01)

    def settle(self, seconds: float = SETTLE_S) -> None:
        """Lets the transfer run on; it must keep making progress."""
        before = self.acked_now()
        time.sleep(seconds)
        self._alive_or_fail("the transfer to go on")
        assert self.acked_now() > before or self.cli.poll() is not None, \
            f"no progress for {seconds} s after recovering\n" + self.diag()

    # -- paths --

    def current_path(self, proc: NsProcess, peer: str) -> Optional[dict]:
        rows = [r for r in _rows(proc, "PATHNOW") if r.get("peer") == peer]
        return rows[-1] if rows else None

    def wait_path(self, proc: NsProcess, peer: str, *, after: float, path: str = None,
                  host: str = None, timeout: float = PATH_BOUND_S) -> dict:
        """Waits until `proc`'s latest tunnel row for `peer` changed after `after` (or is already
        what is wanted) and shows `path` and/or an endpoint on `host`."""
        deadline = time.monotonic() + timeout
        while True:
            row = self.current_path(proc, peer)
            if row is not None:
                ok = (path is None or row.get("path") == path) and \
                     (host is None or _ep_host(row.get("endpoint", "")) == host)
                if ok:
                    return row
            if time.monotonic() > deadline or proc.poll() is not None:
                want = " ".join(x for x in (f"path={path}" if path else "",
                                            f"endpoint host={host}" if host else "") if x)
                raise AssertionError(
                    f"{proc.label}: tunnel to {peer} not reported as {want} within {timeout} s "
                    f"of t={after:.6f}; latest row: {row}\n" + self.diag())
            time.sleep(0.02)

    # -- end --

    def finish(self, timeout: Optional[float] = None) -> tuple[dict, dict]:
        """Waits for both ends and checks the transfer: exact bytes and SHA-256 both ways, one
        connection, no errors, the UDP stream resumed after the last move."""
        timeout = timeout or self.seconds + 60
        try:
            rc_c = self.cli.wait_exit(timeout)
            rc_s = self.srv.wait_exit(20)
        except TimeoutError:
            raise AssertionError("the transfer did not end\n" + self.diag()) from None
        diag = self.diag()
        assert not self.cli.lines_starting("ERROR") and not self.srv.lines_starting("ERROR"), diag
        assert rc_c == 0 and rc_s == 0, diag
        cres = [fields(l) for l in self.cli.lines_starting("RESULT")]
        sres = [fields(l) for l in self.srv.lines_starting("RESULT")]
        assert len(cres) == 1 and len(sres) == 1, diag
        c, s = cres[0], sres[0]
        n = self.nbytes
        c2s = stream_sha256(CLIENT_TO_SERVER_SEED, n)
        s2c = stream_sha256(SERVER_TO_CLIENT_SEED, n)
        # One connection for the whole run: the client never made a second one and the server
        # saw none.
        assert c["connections"] == "1" and s["accepted"] == "1", diag
        assert s["extra_connections"] == "0", "a second connection reached the server\n" + diag
        assert int(c["sent_bytes"]) == n and c["sent_sha256"] == c2s, diag
        assert int(s["recv_bytes"]) == n and s["recv_sha256"] == c2s, \
            "client->server stream corrupted or short\n" + diag
        assert int(s["sent_bytes"]) == n and s["sent_sha256"] == s2c, diag
        assert int(c["recv_bytes"]) == n and c["recv_sha256"] == s2c, \
            "server->client stream corrupted or short\n" + diag
        assert int(c["acked_bytes"]) == n, diag
        # UDP: contents always intact; loss tolerated during a move, but the stream resumes.
        for who, r, proc in (("client", c, self.cli), ("server", s, self.srv)):
            assert r["udp_bad"] == "0", f"{who} received corrupted datagrams\n" + diag
            if self.moves:
                last = self.moves[-1].t_configured
                assert float(r["udp_last_rx_t"]) > last, \
                    f"{who}: the UDP stream did not resume after the last move\n" + diag
                prog = [p for p in _rows(proc, "PROGRESS") if p["t"] <= last]
                before = int(prog[-1]["udp_received"]) if prog else 0
                assert int(r["udp_received"]) - before >= 10, \
                    f"{who}: only {int(r['udp_received']) - before} datagrams after the last " \
                    f"move\n" + diag
        for m in self.moves:
            assert m.recovered_at is not None, m.describe() + "\n" + diag
        return c, s

    def stats(self, proc: NsProcess) -> dict:
        # "STATS " with its space: the node also prints STATS_V1 lines (the version-1 check).
        rows = [fields(l) for l in proc.lines_starting("STATS ")]
        return rows[-1] if rows else {}

    def diag(self) -> str:
        """What happened, compactly: moves, the nodes' lines without the periodic ones (except
        around the moves), the library's log, the topology."""
        out = [self.t.describe(), f"transfer: {self.nbytes} bytes each way at {self.rate_mbps} "
               f"Mb/s; mode: {'control-plane' if self.state_dir else 'static-peer'}"]
        out += [m.describe() for m in self.moves]
        windows = [(m.t_before - 0.05, (m.recovered_at or m.t_configured + 1.0) + 0.05)
                   for m in self.moves]
        for p in (self.srv, self.cli):
            if p is None:
                continue
            p.poll()
            out.append(f"--- {p.label} (pid {p.pid}, rc {p.returncode}): "
                       f"{' '.join(p.argv)[:400]}")
            lines = p.lines
            progress = [l for l in lines if l.startswith("PROGRESS ")]
            for line in lines:
                if line.split(" ", 1)[0] in ("ACK", "PROGRESS"):
                    t = float(fields(line).get("t", "0"))
                    if not any(lo <= t <= hi for lo, hi in windows):
                        continue
                out.append("  " + line)
            out += ["  (last PROGRESS) " + l for l in progress[-2:]]
            err = p.err_lines
            if err:
                out.append(f"  stderr ({len(err)} lines, last {os.environ.get('NTM_DIAG_LINES', '80')}):")
                out += ["    " + l for l in err[-int(os.environ.get("NTM_DIAG_LINES", "80")):]]
        return "\n".join(out)


def _ep_host(ep: str) -> str:
    """'1.2.3.4:5' -> '1.2.3.4'; '[2001:db8::1]:5' -> '2001:db8::1'."""
    host = ep.rpartition(":")[0]
    return host[1:-1] if host.startswith("[") else host


def _record(test: str, run: MobileRun) -> None:
    if os.environ.get("NTM_MOBILITY_VERBOSE"):  # with pytest -s: what happened, also on success
        print(f"\n===== {test}\n{run.diag()}")
    for i, m in enumerate(run.moves):
        _latencies[(test, f"move {i + 1}")] = \
            f"{m.latency_ms:.1f}" if m.latency_ms is not None else "none"
    report_table("Mobility: ms from the new address to the first data acknowledged on the new "
                 "path (rows = test, cols = move)",
                 sorted({k[0] for k in _latencies}), ["move 1", "move 2"], _latencies)


# ---- the tests -------------------------------------------------------------------------------

@pytest.mark.parametrize("peer_kind", ["global4", "nat4"])
def test_move_between_two_nats(topo, servers, peer_kind):
    """The seed's experiment: alice's veth goes from one NAT to another (new private address,
    new public address), during the transfer; bob is global4 or behind a NAT of its own."""
    home = topo.add_nat("home")
    cafe = topo.add_nat("cafe")
    alice = topo.add_node("alice", "nat4", nat=home)
    bob = topo.add_node("bob", peer_kind)
    run = MobileRun(topo, bob, alice, state_dir=servers, seconds=5.0).start()
    try:
        run.wait_path(run.cli, run.server_name, after=0, path="direct")
        m = run.move(alice, cafe)
        run.wait_recovered(m)
        # bob now sends straight to alice's new public address (cafe's NAT).
        run.wait_path(run.srv, run.client_name, after=m.t_detached, path="direct",
                      host=cafe.wan_ipv4)
        run.settle()
        run.finish()
        assert run.current_path(run.cli, run.server_name)["path"] == "direct", run.diag()
    finally:
        _record(f"two NATs, peer {peer_kind}", run)


def test_move_global_to_nat_and_back(topo, servers):
    """alice: global4 -> behind a NAT -> global4 again (a new address); bob behind a NAT, so
    each move needs bob's NAT opened towards alice's new address."""
    cafe = topo.add_nat("cafe")
    alice = topo.add_node("alice", "global4")
    bob = topo.add_node("bob", "nat4")
    run = MobileRun(topo, bob, alice, state_dir=servers, seconds=7.0).start()
    try:
        m1 = run.move(alice, cafe)
        run.wait_recovered(m1)
        run.wait_path(run.srv, run.client_name, after=m1.t_detached, path="direct",
                      host=cafe.wan_ipv4)
        run.settle()
        m2 = run.move(alice, "global4")
        assert alice.ipv4 and alice.nat is None
        run.wait_recovered(m2)
        run.wait_path(run.srv, run.client_name, after=m2.t_detached, path="direct",
                      host=alice.ipv4)
        run.settle()
        run.finish()
    finally:
        _record("global4 -> NAT -> global4", run)


def test_move_nat_to_v6only_and_back(topo, servers):
    """alice: behind a NAT (IPv4) -> IPv6 only -> behind the NAT again. bob is IPv4-only, so
    while alice is IPv6-only the tunnel must go through the RS; back on IPv4 it must return to
    a direct path."""
    home = topo.add_nat("home")
    alice = topo.add_node("alice", "nat4", nat=home)
    bob = topo.add_node("bob", "global4")
    run = MobileRun(topo, bob, alice, state_dir=servers, seconds=8.0).start()
    try:
        run.wait_path(run.cli, run.server_name, after=0, path="direct")
        m1 = run.move(alice, "v6only")
        assert alice.ipv6 and not alice.ipv4
        run.wait_recovered(m1)
        run.wait_path(run.cli, run.server_name, after=m1.t_detached, path="relay")
        run.wait_path(run.srv, run.client_name, after=m1.t_detached, path="relay")
        run.settle()
        m2 = run.move(alice, home)
        run.wait_recovered(m2)
        run.wait_path(run.cli, run.server_name, after=m2.t_detached, path="direct",
                      host=bob.ipv4)
        run.wait_path(run.srv, run.client_name, after=m2.t_detached, path="direct",
                      host=home.wan_ipv4)
        run.settle()
        run.finish()
    finally:
        _record("NAT -> v6only -> NAT", run)


def test_move_to_v6only_waits_out_duplicate_address_detection(topo, servers):
    """alice moves from behind a NAT to an IPv6-only network that runs duplicate address
    detection, as real ones do: her new address is tentative (no source for anything) for 1-2 s.
    Data must resume as soon as the kernel announces the address usable (RTM_NEWADDR without the
    tentative flag) - not a second later because something sent during the detection (from ::1,
    the kernel's choice then) left the servers' neighbour entry incomplete until its next try."""
    home = topo.add_nat("home")
    alice = topo.add_node("alice", "nat4", nat=home)
    bob = topo.add_node("bob", "global4")
    run = MobileRun(topo, bob, alice, state_dir=servers, seconds=8.0).start()
    try:
        run.wait_path(run.cli, run.server_name, after=0, path="direct")
        m = run.move(alice, "v6only", dad=True)
        address = alice.ipv6
        run.wait_recovered(m)
        announced = [r["t"] for r in _rows(run.cli, "NETLINK")
                     if r.get("ev") == "newaddr" and r.get("addr") == address
                     and m.t_detached < r["t"] < m.recovered_at]
        # Added tentative, then announced again once usable: the last one ends the detection.
        assert len(announced) >= 2, ("the address was not announced twice (added, usable)\n"
                                     + run.diag())
        usable = announced[-1]
        assert usable - m.t_configured > 0.3, "the address was never tentative\n" + run.diag()
        resumed_ms = (m.recovered_at - usable) * 1000
        print(f"data resumed {resumed_ms:.0f} ms after the address became usable")
        assert resumed_ms < DAD_RESUME_BOUND_MS, (
            f"data resumed {resumed_ms:.0f} ms after the address became usable (bound "
            f"{DAD_RESUME_BOUND_MS} ms)\n" + run.diag())
        run.wait_path(run.cli, run.server_name, after=m.t_detached, path="relay")
        run.settle()
        run.finish()
    finally:
        _record("NAT -> v6only with DAD", run)


def test_both_ends_move_at_once(topo, servers):
    """alice and bob, each behind a NAT, both move to another NAT at nearly the same time:
    neither knows where the other went; the DC has to bring them together again."""
    home_a, cafe_a = topo.add_nat("home-a"), topo.add_nat("cafe-a")
    home_b, cafe_b = topo.add_nat("home-b"), topo.add_nat("cafe-b")
    alice = topo.add_node("alice", "nat4", nat=home_a)
    bob = topo.add_node("bob", "nat4", nat=home_b)
    run = MobileRun(topo, bob, alice, state_dir=servers, seconds=5.0).start()
    try:
        m = run.move_both(alice, cafe_a, bob, cafe_b)
        run.wait_recovered(m)
        run.wait_path(run.cli, run.server_name, after=m.t_detached, path="direct",
                      host=cafe_b.wan_ipv4)
        run.wait_path(run.srv, run.client_name, after=m.t_detached, path="direct",
                      host=cafe_a.wan_ipv4)
        run.settle()
        run.finish()
    finally:
        _record("both ends move", run)


def test_offline_for_two_seconds_then_back(topo, servers):
    """alice loses her only address for 2 s (veth deleted, nothing configured), then comes back
    behind another NAT: the session waits (TCP retransmits on the virtual side) and recovers."""
    home = topo.add_nat("home")
    cafe = topo.add_nat("cafe")
    alice = topo.add_node("alice", "nat4", nat=home)
    bob = topo.add_node("bob", "global4")
    run = MobileRun(topo, bob, alice, state_dir=servers, seconds=6.0).start()
    try:
        acked = run.acked_now()
        t_before = time.monotonic()
        topo.detach(alice)
        t_det = time.monotonic()
        time.sleep(2.0)
        t_cfg = topo.attach(alice, cafe)
        m = Move("alice offline 2 s -> cafe", t_before, t_det, t_cfg, acked_before=acked,
                 procs=(run.cli,))
        run.moves.append(m)
        run.wait_recovered(m)
        run.wait_path(run.srv, run.client_name, after=t_cfg, path="direct", host=cafe.wan_ipv4)
        run.settle()
        run.finish()
    finally:
        _record("offline 2 s, then NAT", run)


# ---- forged packets (static-peer mode) ---------------------------------------------------------

# Runs in bob's namespace: prints the UDP payloads of the first data capsules alice sends to bob.
_SNIFF = r"""
import socket, struct, sys, time
src, dst, dport, want, tmo = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \
    float(sys.argv[5])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
s.bind(("eth0", 0))
s.settimeout(0.2)
end = time.monotonic() + tmo
got = 0
while got < want and time.monotonic() < end:
    try:
        frame, addr = s.recvfrom(65535)
    except socket.timeout:
        continue
    if addr[2] == socket.PACKET_OUTGOING or frame[12:14] != b"\x08\x00":
        continue
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    if ip[9] != 17 or socket.inet_ntoa(ip[12:16]) != src or socket.inet_ntoa(ip[16:20]) != dst:
        continue
    udp = ip[ihl:]
    if struct.unpack("!H", udp[2:4])[0] != dport:
        continue
    payload = udp[8:struct.unpack("!H", udp[4:6])[0]]
    # One data capsule (type 3) with data. Longer payloads are GSO trains (several capsules
    # in one skb on the veth): not a datagram any node ever receives as such.
    if not 200 <= len(payload) <= 1472 or payload[0] != 3:
        continue
    print("PKT", payload.hex(), flush=True)
    got += 1
"""

# Runs in mallory's namespace: sends each captured capsule replayed verbatim, with a flipped
# ciphertext bit and tag bit, with its authentic header and a random body, and with a far-future
# counter (which must not advance the replay window) and a random body.
_INJECT = r"""
import os, socket, struct, sys
host, port, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pkts = [bytes.fromhex(h) for h in sys.argv[4:]]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n = 0
for _ in range(rounds):
    for p in pkts:
        flipped = bytearray(p); flipped[len(p) // 2] ^= 0x80; flipped[-1] ^= 1
        future = p[:8] + struct.pack("!Q", struct.unpack("!Q", p[8:16])[0] + (1 << 20))
        for d in (p, bytes(flipped), p[:16] + os.urandom(len(p) - 16),
                  future + os.urandom(len(p) - 16)):
            s.sendto(d, (host, port))
            n += 1
print("SENT", n, flush=True)
"""


def test_forged_packets_do_not_move_the_path(topo):
    """Static-peer mode, alice (client) and bob (server) on global4, mallory elsewhere on the
    internet. Capsules alice sent (captured at bob) are replayed from mallory's address, also
    bit-flipped, with random bodies and with a far-future counter: bob must drop them all and
    keep sending to alice's real address; the transfer goes on undisturbed. Then alice really
    moves: her authenticated packets from the new address do move the path (the test is not
    vacuous)."""
    alice = topo.add_node("alice", "global4")
    bob = topo.add_node("bob", "global4")
    mallory = topo.add_node("mallory", "global4")
    run = MobileRun(topo, bob, alice, seconds=6.0).start(min_acked=200_000)
    try:
        old_ep = run.wait_path(run.srv, run.client_name, after=0, path="direct", host=alice.ipv4)
        sniff = topo.exec(bob, [sys.executable, "-c", _SNIFF, alice.ipv4, bob.ipv4,
                                str(STATIC_PORT), "4", "5"], timeout=15)
        pkts = [l.split()[1] for l in sniff.stdout.splitlines() if l.startswith("PKT ")]
        assert len(pkts) == 4, f"captured {len(pkts)} capsules\n{sniff.stdout}{sniff.stderr}"
        t_inject = time.monotonic()
        inj = topo.exec(mallory, [sys.executable, "-c", _INJECT, bob.ipv4, str(STATIC_PORT),
                                  "5", *pkts], timeout=15)
        injected = int(inj.stdout.split()[1])
        time.sleep(0.5)
        # Nothing moved: no path event at bob, same endpoint, mallory never appears.
        moved = [l for l in run.srv.lines_starting("EVENT ")
                 if "type=path_changed" in l and float(fields(l)["t"]) >= t_inject]
        assert not moved, "a forged packet moved the path:\n" + "\n".join(moved) + \
            "\n" + run.diag()
        row = run.current_path(run.srv, run.client_name)
        assert row["endpoint"] == old_ep["endpoint"], run.diag()
        assert mallory.ipv4 not in "\n".join(run.srv.lines), run.diag()
        # The transfer was not disturbed: acknowledgements kept coming.
        acks = [t for t, _ in run.acks() if t >= t_inject - 0.1]
        gaps = [b - a for a, b in zip(acks, acks[1:])]
        assert acks and max(gaps, default=0) < 0.5, \
            f"acknowledgements stalled {max(gaps, default=0):.3f} s after the forgery\n" + \
            run.diag()
        # An authentic move does change bob's path.
        m = run.move(alice, "global4")
        run.wait_recovered(m)
        run.wait_path(run.srv, run.client_name, after=m.t_detached, path="direct",
                      host=alice.ipv4)
        run.settle(0.5)
        run.finish()
        st = run.stats(run.srv)
        drops = sum(int(st.get(k, 0)) for k in ("dropped_malformed", "dropped_unknown_path",
                                                "dropped_auth", "dropped_replay"))
        assert drops >= injected, f"bob dropped {drops} < {injected} injected: {st}"
        assert mallory.ipv4 not in "\n".join(run.srv.lines), run.diag()
    finally:
        _record("static peer: forged, then a real move", run)
