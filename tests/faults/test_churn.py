"""Unrelated network events in a node's namespace move nothing (issue 12 item 6): while sessions
run, another program creates, brings up, re-addresses and deletes interfaces (veths, a bridge,
a route to elsewhere) next to the node; the node must neither re-register with the DC nor
re-handshake with its peer. A real change afterwards (a second address on the uplink) is the
barrier: once the node has counted it, every churn event before it was processed too."""
import time

from conftest import record
from field_run import SessionsRun
from topology import wait_until

CHURN_ROUNDS = 10


def churn(topo, node) -> None:
    for i in range(CHURN_ROUNDS):
        for cmd in (f"ip link add chv{i} type veth peer name chp{i}",
                    f"ip link set chv{i} up", f"ip link set chp{i} up",
                    f"ip route add 203.0.113.{i}/32 dev chv{i}",
                    f"ip link add chb{i} type bridge", f"ip link set chb{i} up",
                    f"ip link set chb{i} name chr{i}", f"ip link del chr{i}",
                    f"ip link del chv{i}"):
            topo.exec(node, cmd.split())


def test_interface_churn_moves_nothing(topo, servers):
    alice = topo.add_node("alice", "global4")
    bob = topo.add_node("bob", "global4")
    run = SessionsRun(topo, servers, bob, alice, sessions=2, duration_s=30,
                      extra=["--stats-ms", "100"])
    run.wait_flowing()
    t0 = time.monotonic()
    before = run.client.stats_after(t0)
    churn(topo, alice)
    t_churned = time.monotonic()
    topo.exec(alice, ["ip", "addr", "add", "198.18.0.249/24", "dev", "eth0"])  # the barrier
    wait_until(lambda: int(run.client.stats().get("network_changes", 0)) >
               int(before["network_changes"]), timeout=10, what="the barrier change counted")
    after = run.client.stats_after(time.monotonic())
    diag = f"before {before}\nafter {after}\n" + run.diag()
    assert int(after["network_changes"]) == int(before["network_changes"]) + 1, diag
    assert int(after["registrations"]) <= int(before["registrations"]) + 1, diag
    # The barrier's own path update (one handshake, perhaps one retry), plus one re-punch for
    # every direction the DC sent while the path was stale (the node asks at once and again
    # after re-registering, and which answers first is a race), and nothing for the churn.
    directions = int(after["directions_received"]) - int(before["directions_received"])
    assert int(after["handshakes_initiated"]) - int(before["handshakes_initiated"]) <= \
        2 + directions, diag
    record("interface churn", f"{CHURN_ROUNDS} rounds of churn",
           f"{int(after['network_changes']) - int(before['network_changes']) - 1} changes, "
           f"{int(after['handshakes_initiated']) - int(before['handshakes_initiated'])} "
           f"handshakes (barrier included)")
    assert t_churned > t0
    run.finish()
