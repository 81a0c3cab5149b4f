"""Server restarts during traffic (issue 12 item 3): the DC and the RS are killed with SIGKILL
while checksummed sessions run, and started again at once.

- DC: the sessions (direct) never stop, and a name nobody resolved before is resolvable again
  within RECOVERY_BOUND_S of the DC listening again (the DC asks the nodes of its previous run to
  register at once; a node the DC does not know gets a challenge instead of silence).
- RS: a relayed session (IPv4-only <-> IPv6-only) carries data again within RECOVERY_BOUND_S of
  the RS listening again (the RS answers datagrams for relays it lost with a challenge; the nodes
  bind again at once and TCP resends without its backoff).

The keepalive interval stays at its default (20 s), so nothing here waits for a keepalive."""
import time

from conftest import record
from field_run import DOMAIN, FieldNode, SessionsRun
from topology import wait_until

RECOVERY_BOUND_S = 3.0
RESOLVE_TRIES_S = 15.0


def resolve_until_ok(node: FieldNode, name: str, deadline_s: float) -> float:
    """Sends RESOLVE until one succeeds; returns the monotonic time of the first success."""
    deadline = time.monotonic() + deadline_s
    asked = 0
    while time.monotonic() < deadline:
        asked += 1
        node.send(f"RESOLVE {name}")
        node.proc.wait_lines("RESOLVED", asked, timeout=deadline_s + 10)
        last = node.rows("RESOLVED")[-1]
        if last.get("ok") == "1":
            return last["t"]
    raise AssertionError(f"{name} not resolvable within {deadline_s} s\n" + node.proc.output())


def test_dc_kill9_and_restart_names_resolvable_within_bound(topo, servers):
    alice = topo.add_node("alice", "global4")
    bob = topo.add_node("bob", "global4")
    carol = topo.add_node("carol", "nat4")
    run = SessionsRun(topo, servers, bob, alice, sessions=2, duration_s=30)
    c = FieldNode(topo, carol, servers, "carol", "sessions", "server", ["--sessions", "1"],
                  timeout_s=120)
    c.wait_ready()
    run.wait_flowing()
    # The DC challenges at start the nodes of its saved list: kill it once all three are saved.
    wait_until(lambda: servers.dc_saved_nodes() >= 3, timeout=10, what="the DC's saved node list")
    t_kill = servers.kill("dc")
    t_up = servers.start("dc")
    # The direct sessions do not need the DC at all.
    run.recovery("DC kill -9 (direct sessions)", t_kill, timeout=RECOVERY_BOUND_S)
    t_ok = resolve_until_ok(run.client, f"carol.{DOMAIN}", RESOLVE_TRIES_S)
    took = t_ok - t_up
    record("server restarts", "DC kill -9: a new name resolvable after restart", took)
    assert took <= RECOVERY_BOUND_S, (f"carol.{DOMAIN} resolvable {took:.2f} s after the DC "
                                      f"came back (bound {RECOVERY_BOUND_S} s)\n" + run.diag())
    run.finish()
    c.proc.stop()


def test_rs_kill9_and_restart_relayed_traffic_back_within_bound(topo, servers):
    alice = topo.add_node("alice", "global4")
    bob = topo.add_node("bob", "v6only")
    run = SessionsRun(topo, servers, bob, alice, sessions=2, duration_s=30)
    run.wait_flowing()
    row = run.client.wait_tunnel(f"bob.{DOMAIN}", 10, lambda r: r.get("path") == "relay",
                                 "relayed")
    assert row["path"] == "relay"
    # The restarted RS forwards at once for the relays of its saved table: kill it once the
    # table holds this relay with both ends (written at most once a second; a relay younger than
    # that recovers when each end next sends, as after any relay loss).
    wait_until(lambda: servers.rs_saved_relays_bound() >= 1, timeout=10,
               what="the RS's saved relay table")
    servers.kill("rs")
    t_up = servers.start("rs")
    took = run.recovery("RS kill -9 and restart", t_up, timeout=15)
    record("server restarts", "RS kill -9: relayed sessions progress after restart", took)
    assert took <= RECOVERY_BOUND_S, (f"relayed sessions progressed {took:.2f} s after the RS "
                                      f"came back (bound {RECOVERY_BOUND_S} s)\n" + run.diag())
    run.finish()
