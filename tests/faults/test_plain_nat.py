"""Two nodes behind NATs get a direct path (issue 12 item 4), with and without the home router's
rule that drops unsolicited input on the uplink.

Stock Linux masquerade (no such rule) lets a punch that arrives before the inside host's own has
left create a conntrack entry on the router; the inside host's punch is then mapped to another
port, which the other NAT filters, and both ends stay on the relay. The engine therefore opens
its own NAT first with a hop-limited init that expires before the peer's NAT, and sends the init
that reaches the peer only after a lead (tunnel/constants.h, kPunchLead). That needs the NATs to
be at least one router apart, as on the internet (Topology.add_nat(routed=True)); two stock NATs
on one Ethernet segment cannot be punched by anyone (whichever init arrives first poisons the
other router), and there the test only asks that the relay carries the sessions.

Every case runs checksummed TCP sessions across the set-up and bounds the time to the path."""
import time

import pytest

from conftest import record
from field_run import DOMAIN, SessionsRun

DIRECT_BOUND_S = 3.0   # Direction, opening punch, lead, handshake (the relay fallback is 1 s)


def run_pair(topo, servers, alice_node, bob_node):
    run = SessionsRun(topo, servers, bob_node, alice_node, sessions=2, duration_s=6,
                      gap_ms="5-20")
    t0 = time.monotonic()
    run.wait_flowing(timeout=20)
    return run, t0


def expect_direct(run, node, peer: str, nat, t0: float) -> float:
    """`node`'s tunnel to `peer` goes direct to `nat`'s public address within DIRECT_BOUND_S of
    t0 and stays direct until the sessions end (checked by the caller after finish()); returns
    the time it took."""
    row = node.wait_tunnel(peer, DIRECT_BOUND_S + 10, lambda r: r["path"] == "direct", "direct")
    took = row["t"] - t0
    diag = f"direct after {took:.3f} s: {row}\n" + run.diag()
    assert row["endpoint"].startswith(nat.wan_ipv4 + ":"), diag
    assert took < DIRECT_BOUND_S, diag
    return took


@pytest.mark.parametrize("filtered", [False, True], ids=["stock-masquerade", "home-router"])
def test_two_nats_a_router_apart_get_a_direct_path(topo, servers, filtered):
    nat_a = topo.add_nat("a", filtered=filtered, routed=True)
    nat_b = topo.add_nat("b", filtered=filtered, routed=True)
    alice = topo.add_node("alice", "nat4", nat=nat_a)
    bob = topo.add_node("bob", "nat4", nat=nat_b)
    run, t0 = run_pair(topo, servers, alice, bob)
    peer = f"bob.{DOMAIN}"
    took = expect_direct(run, run.client, peer, nat_b, t0)
    res = run.finish()
    assert run.client.tunnel(peer)["path"] == "direct", run.diag()
    assert int(res["bytes_verified"]) > 0, run.diag()
    record("plain NATs", f"{'home-router' if filtered else 'stock masquerade'} NATs, routed: "
                         "to direct", took)


def test_a_global_node_learns_the_port_a_stock_nat_maps_its_peer_to(topo, servers):
    """bob's first init reaches alice's NAT before alice's own punch has left, so alice's punch
    is mapped to another port: bob must answer (and stay with) the port alice's authenticated
    init came from - the peer-reflexive endpoint - rather than the one the DC observed."""
    nat_a = topo.add_nat("a", filtered=False)
    alice = topo.add_node("alice", "nat4", nat=nat_a)
    bob = topo.add_node("bob", "global4")
    run, t0 = run_pair(topo, servers, alice, bob)
    peer = f"alice.{DOMAIN}"
    took = expect_direct(run, run.server, peer, nat_a, t0)
    run.finish()
    assert run.server.tunnel(peer)["path"] == "direct", run.diag()
    record("plain NATs", "stock masquerade NAT <-> global: to direct", took)


def test_two_stock_nats_on_one_segment_keep_the_sessions_on_the_relay(topo, servers):
    nat_a = topo.add_nat("a", filtered=False)
    nat_b = topo.add_nat("b", filtered=False)
    alice = topo.add_node("alice", "nat4", nat=nat_a)
    bob = topo.add_node("bob", "nat4", nat=nat_b)
    run, t0 = run_pair(topo, servers, alice, bob)
    row = run.client.wait_tunnel(f"bob.{DOMAIN}", 10, lambda r: r["path"] in ("direct", "relay"),
                                 "up")
    res = run.finish()
    assert int(res["bytes_verified"]) > 0, run.diag()
    record("plain NATs", "stock masquerade NATs, one segment: path",
           run.client.tunnel(f"bob.{DOMAIN}")["path"])
    assert row["t"] >= t0
