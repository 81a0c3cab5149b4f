"""Interop nodes inside the namespace topologies of tests/netns (the seed paper's network).

Reuses tests/netns as a library - Topology (namespaces, NATs, moves), start_servers (ntm-server
in the servers namespace, dual stack) - and nodes.py for each language's command line. Adds:
a topology with this suite's own name prefix, the accounts the interop nodes log in with,
starting a node on a namespace host, reading its records, and timing a move's recovery from
the client's PROGRESS records.
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Optional

HERE = os.path.dirname(os.path.abspath(__file__))
NETNS_DIR = os.path.normpath(os.path.join(HERE, "..", "netns"))
for _d in (HERE, NETNS_DIR):
    if _d not in sys.path:
        sys.path.insert(0, _d)

import nodes  # noqa: E402  (tests/interop/nodes.py: each language's command line)
import pytest  # noqa: E402
from test_matrix import (AS_PORT, DOMAIN, PASSWORD, RS_PORT,  # noqa: E402, F401
                         server_program, start_servers)
from topology import (SERVERS_IPV4, SERVERS_IPV6, Node, NsProcess,  # noqa: E402
                      Topology, endpoint)

# "ntmi" + 8 hex digits: never one of tests/netns's "ntmt..." prefixes, unique per topology.
PREFIX = "ntmi"
SERVER_PORT = 7000           # the interop servers' TCP/UDP port (the spec's default)
CLIENT_TIMEOUT_S = 75.0      # the client's own deadline is 60 s; this bounds our wait on it


def new_topology() -> Topology:
    return Topology(prefix=f"{PREFIX}{secrets.token_hex(4)}")


def fqdn(account: str) -> str:
    return f"{account}.{DOMAIN}"


def start_control_plane(t: Topology, state_dir: str, accounts: list[str]) -> NsProcess:
    """ntm-server (AS+DC+RS) in the servers namespace on IPv4 and IPv6, with `accounts` (all
    with test_matrix's PASSWORD) besides start_servers' own alice and bob."""
    srv = server_program()
    assert srv, "ntm-server not found: build first (NTM_BUILD_DIR names the build directory)"
    for account in accounts:
        r = subprocess.run([srv, "accounts", "add", account, "--password", PASSWORD,
                            "--state", state_dir], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, f"accounts add {account} failed: {r.stderr}"
    return start_servers(t, state_dir)


def as_endpoint(host: Node) -> str:
    """The AS address a node on `host` can reach: IPv4 if it has IPv4 (NATs are IPv4-only)."""
    return endpoint(SERVERS_IPV4 if host.ipv4 else SERVERS_IPV6, AS_PORT)


def start_node(t: Topology, host: Node, lang: str, role: str, account: str, state_dir: str,
               *extra: str) -> NsProcess:
    """Starts `lang`'s interop node (`role` server|client, logged in as `account`) inside
    `host`'s namespace; `extra` are more node options (--peer, --bytes, ...). Fails the test,
    naming the fix, when that language's node cannot run."""
    problem = nodes.missing(lang)
    if problem:
        pytest.fail(f"the {lang} interop node cannot run: {problem}")
    args = [role, "--server", as_endpoint(host),
            "--server-cert", os.path.join(state_dir, "as-tls.pem"),
            "--account", account, "--password", PASSWORD, "--port", str(SERVER_PORT), *extra]
    argv, env = nodes.command(lang, args)
    # A server runs until its stdin ends: keep a pipe open (nodes.end_stdin ends it cleanly).
    stdin = subprocess.PIPE if role == "server" else subprocess.DEVNULL
    return t.run(host, argv, env=env, stdin=stdin, label=f"{lang}-{role}@{host.name}")


def wait_ready(proc: NsProcess) -> dict:
    """The fields of the server node's READY record (bounded by nodes.READY_TIMEOUT_S)."""
    try:
        return nodes.fields(proc.wait_line("READY ", timeout=nodes.READY_TIMEOUT_S))
    except TimeoutError:
        raise AssertionError(f"no READY within {nodes.READY_TIMEOUT_S} s\n"
                             + nodes.tails(proc)) from None


def _sent(proc: NsProcess) -> int:
    rows = nodes.records(proc, "PROGRESS")
    return int(rows[-1]["sent"]) if rows else 0


def wait_sent(proc: NsProcess, nbytes: int, timeout: float) -> int:
    """Waits until the client's PROGRESS shows at least `nbytes` uploaded; returns the count."""
    deadline = time.monotonic() + timeout
    while True:
        sent = _sent(proc)
        if sent >= nbytes:
            return sent
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"PROGRESS did not reach sent={nbytes} within {timeout} s "
                                 f"(last sent={sent})\n" + nodes.tails(proc))
        time.sleep(0.01)


SEND_BUFFER = 512 * 1024      # TCP_SND_BUF in core/stack/include/lwipopts.h


@dataclass
class Recovery:
    """A move of the client's host during its paced upload, timed from its PROGRESS records
    (the interop spec's only clock; times are when this process read the record, <= 5 ms late).

    first_increase_ms: move configured -> the first PROGRESS with more bytes sent than before
    the move. Short even if the new path is not working yet: the virtual TCP send buffer
    (SEND_BUFFER bytes) keeps taking data for a while.
    proven_ms: move configured -> sent exceeds the first count reported after the move by more
    than SEND_BUFFER. Bytes sent minus bytes acknowledged never exceed the buffer, so by then
    bytes written after the move were acknowledged: the new path carried data both ways. It
    includes pacing_floor_ms, the time the pacer needs for SEND_BUFFER bytes anyway, so a
    recovery faster than that floor shows up as ~the floor."""
    sent_at_move: int
    detach_started: float
    configured: float
    pacing_floor_ms: float
    first_increase_ms: Optional[float] = None
    proven_ms: Optional[float] = None

    def describe(self) -> str:
        return (f"first PROGRESS +{self.first_increase_ms:.0f} ms, new path proven +"
                f"{self.proven_ms:.0f} ms (pacing floor {self.pacing_floor_ms:.0f} ms)")


def move_and_time(t: Topology, proc: NsProcess, host: Node, target, rate_mbps: float,
                  timeout: float) -> Recovery:
    """Moves `host` (Topology.move: new uplink, address, route) while `proc` uploads at
    `rate_mbps`, then polls its PROGRESS records (every 5 ms, for at most `timeout` s) until both
    recovery times are known. The upload must outlast the move by well over SEND_BUFFER bytes."""
    assert proc.poll() is None, "the client ended before the move\n" + nodes.tails(proc)
    sent0 = _sent(proc)
    t0 = time.monotonic()
    configured = t.move(host, target)
    first_after = len(proc.lines)    # records from here on were printed after the detach
    rec = Recovery(sent_at_move=sent0, detach_started=t0, configured=configured,
                   pacing_floor_ms=SEND_BUFFER * 8 / (rate_mbps * 1e6) * 1000.0)
    deadline = configured + timeout
    while True:
        now = time.monotonic()
        sent = _sent(proc)
        if rec.first_increase_ms is None and sent > sent0:
            rec.first_increase_ms = (now - configured) * 1000.0
        after = nodes.records(proc, "PROGRESS", start=first_after)
        if after and sent > int(after[0]["sent"]) + SEND_BUFFER:
            rec.proven_ms = (now - configured) * 1000.0
            return rec
        if proc.poll() is not None or now > deadline:
            raise AssertionError(
                f"no recovery within {timeout} s of moving {host.name} to "
                f"{getattr(target, 'name', target)}: sent={sent0} at the move, {sent} now, "
                f"first PROGRESS increase after {rec.first_increase_ms} ms\n" + nodes.tails(proc))
        time.sleep(0.005)
