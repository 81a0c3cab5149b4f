"""The seed paper's experiment with the interop nodes, in network namespaces (root only).

ntm-server (AS+DC+RS, dual stack) runs in the servers namespace of a tests/netns topology; each
interop node runs on a namespace host of its own, in control-plane mode (login, registration,
resolution by FQDN through the DC):

  * a Java client behind an IPv4 NAT uploads, paced, to a Ruby server on an IPv6-only network
    (no common real family: the tunnel must go through the RS); mid-upload the Java host moves
    to another NAT (new private and public address). The same TCP connection must finish the
    transfer with matching hashes.
  * a Python node and a C node behind two different (cone) NATs: hole punching gives a direct
    tunnel; both client/server directions.

Prints a table: pair, path, seconds, move recovery. Each test builds and removes its own
namespaces (prefix "ntmi..."), and stops its processes by PID, also on failure.
"""
from __future__ import annotations

import ipaddress
import os
import subprocess
import tempfile

import pytest

import nodes
from netns_nodes import (CLIENT_TIMEOUT_S, RS_PORT, SERVERS_IPV4, endpoint, fqdn,
                         move_and_time, new_topology, start_control_plane, start_node,
                         wait_ready, wait_sent)

VIRTUAL_POOL_V4 = ipaddress.ip_network("100.64.0.0/10")       # ntm-server's default pools
VIRTUAL_POOL_V6 = ipaddress.ip_network("fd00:6e74:6d::/48")
REQUESTS_PER_CONNECTION = 7   # HELLO, 3 x ECHO, UPLOAD, DOWNLOAD, QUIT

MOVE_BYTES = 8 << 20          # the paced upload that the move interrupts: ~4.2 s at 16 Mb/s
MOVE_RATE_MBPS = 16
MOVE_AFTER_BYTES = 1 << 20    # steady state before moving
MOVE_RECOVERY_BOUND_S = 10.0
DIRECT_BYTES = 4 << 20        # the NAT-to-NAT transfers (unpaced), each virtual family

# The summary table: a row per test, [pair, path, seconds, move recovery]; a test adds its
# row first as failed and fills it in once everything was checked.
_rows: list[list[str]] = []


def _row(pair: str) -> list[str]:
    row = [pair, "FAIL", "-", "-"]
    _rows.append(row)
    return row


@pytest.fixture
def seed_net():
    """A fresh topology with ntm-server running; yields (topology, server state dir)."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (the loopback interop tests do not)")
    t = new_topology()
    state = tempfile.mkdtemp(prefix="ntm-interop-netns-")
    try:
        with t:
            start_control_plane(t, state, ["java", "ruby", "python", "c"])
            yield t, state
        left = t.leftover_namespaces()
        assert not left, f"namespaces left behind: {left}"
    finally:
        subprocess.run(["rm", "-rf", "--", state], check=False)


@pytest.fixture(scope="module", autouse=True)
def _print_table(request):
    yield
    if not _rows:
        return
    rows = [["pair", "path", "seconds", "move recovery"]] + _rows
    widths = [max(len(str(r[i])) for r in rows) for i in range(4)]
    text = "\n".join(" | ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in rows)
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n\nInterop in namespaces (the seed's experiment)\n" + text)


def _finish(client, server, families: tuple[int, ...], nbytes: int, server_lang: str
            ) -> tuple[list[dict], dict]:
    """Waits for the client, ends the server, and checks what the spec promises for a run over
    `families`: a RESULT per family, one connection served per family (every request and both
    payloads on it: a connection that broke and was replaced would show up as a second SERVED
    or a FAIL). Returns (the RESULT records, the TUNNEL record of the server's FQDN)."""
    rc = client.wait_exit(CLIENT_TIMEOUT_S)
    rc_server = nodes.stop(server)      # end of stdin: it closes its node and exits 0
    diag = nodes.tails(client, server)
    assert rc == 0 and not nodes.records(client, "FAIL"), diag
    assert rc_server == 0, diag
    results = nodes.records(client, "RESULT")
    assert [r["family"] for r in results] == [str(f) for f in families], diag
    for r in results:
        assert r["peer_lang"] == server_lang, diag
        assert (r["line"], r["upload"], r["download"]) == ("ok", "ok", "ok"), diag
        got, sent = r["udp"].split("/")
        assert got == sent and int(sent) > 0, diag
    tunnels = [r for r in nodes.records(client, "TUNNEL") if r["peer"] == fqdn(server_lang)]
    assert len(tunnels) == 1, diag
    served = nodes.records(server, "SERVED")
    assert len(served) == len(families), f"expected {len(families)} SERVED record(s)\n{diag}"
    for s, family in zip(served, families):
        pool = VIRTUAL_POOL_V4 if family == 4 else VIRTUAL_POOL_V6
        assert ipaddress.ip_address(s["peer"]) in pool, diag
        assert int(s["requests"]) == REQUESTS_PER_CONNECTION, diag
        assert int(s["bytes_in"]) == nbytes and int(s["bytes_out"]) == nbytes, diag
    return results, tunnels[0]


def _seconds(results: list[dict]) -> str:
    return " / ".join(f"v{r['family']} {r['seconds']}" for r in results)


def test_java_nat_to_ruby_v6only_via_relay_with_move(seed_net):
    t, state = seed_net
    row = _row("java(NAT, moved) -> ruby(IPv6-only)")
    home, cafe = t.add_nat("home"), t.add_nat("cafe")
    java_host = t.add_node("java", "nat4", nat=home)
    ruby_host = t.add_node("ruby", "v6only")
    server = start_node(t, ruby_host, "ruby", "server", "ruby", state)
    wait_ready(server)
    # Virtual IPv6 (both virtual families exist regardless of the real networks).
    client = start_node(t, java_host, "java", "client", "java", state,
                        "--peer", fqdn("ruby"), "--family", "6", "--bytes", str(MOVE_BYTES),
                        "--rate-mbps", str(MOVE_RATE_MBPS))
    wait_sent(client, MOVE_AFTER_BYTES, timeout=60)
    rec = move_and_time(t, client, java_host, cafe, MOVE_RATE_MBPS, MOVE_RECOVERY_BOUND_S)
    row[3] = rec.describe()
    results, tunnel = _finish(client, server, (6,), MOVE_BYTES, "ruby")
    # No real family in common: through the RS, which the Java node reaches over IPv4.
    assert tunnel["path"] == "relay", nodes.tails(client)
    assert tunnel["endpoint"] == endpoint(SERVERS_IPV4, RS_PORT), nodes.tails(client)
    row[1:3] = [tunnel["path"], _seconds(results)]


@pytest.mark.parametrize("client_lang,server_lang", [("python", "c"), ("c", "python")])
def test_python_c_across_two_nats_direct(seed_net, client_lang, server_lang):
    t, state = seed_net
    row = _row(f"{client_lang}(NAT A) -> {server_lang}(NAT B)")
    server_host = t.add_node(server_lang, "nat4")     # each behind a cone NAT of its own
    client_host = t.add_node(client_lang, "nat4")
    server = start_node(t, server_host, server_lang, "server", server_lang, state)
    wait_ready(server)
    client = start_node(t, client_host, client_lang, "client", client_lang, state,
                        "--peer", fqdn(server_lang), "--family", "both",
                        "--bytes", str(DIRECT_BYTES))
    results, tunnel = _finish(client, server, (4, 6), DIRECT_BYTES, server_lang)
    assert tunnel["path"] == "direct", nodes.tails(client, server)
    # The direct endpoint is the server's NAT (hole punched), not the RS.
    assert tunnel["endpoint"].startswith(server_host.nat.wan_ipv4 + ":"), nodes.tails(client)
    row[1:3] = [tunnel["path"], _seconds(results)]
