"""Idle past the timeout (issue 12 item 1): one TCP connection whose tunnel goes idle (keys
dropped after idle_timeout_ms = 3 s) before every round; during the idle periods the peer that
will be *reached* moves to another NAT, so the end that speaks first finds the old path dead
and must have the DC bring both ends together again. Each round is checksummed both ways and
must complete within ROUND_BOUND_S."""
from conftest import record
from field_run import DOMAIN, FieldNode

IDLE_TIMEOUT_MS = 3000
ROUND_BOUND_S = 5.0


def test_idle_past_timeout_with_moves_during_idle(topo, servers):
    home_a, cafe_a = topo.add_nat("home-a"), topo.add_nat("cafe-a")
    home_b, cafe_b = topo.add_nat("home-b"), topo.add_nat("cafe-b")
    alice = topo.add_node("alice", "nat4", nat=home_a)
    bob = topo.add_node("bob", "nat4", nat=home_b)
    common = ["--idle-timeout", str(IDLE_TIMEOUT_MS), "--rounds", "3", "--bytes", "131072",
              "--go-stdin", "--idle-wait", "30"]
    b = FieldNode(topo, bob, servers, "bob", "idle-rounds", "server", common, stdin=True,
                  timeout_s=90)
    b.wait_ready()
    a = FieldNode(topo, alice, servers, "alice", "idle-rounds", "client",
                  common + ["--connect", f"bob.{DOMAIN}:5000"], stdin=True, timeout_s=90)

    def diag() -> str:
        return topo.describe() + "\n" + a.proc.output() + "\n" + b.proc.output()

    # Round 2 is bob's to start: alice (who will be reached) moves while both are idle.
    for who, node, target, rnd in ((a, alice, cafe_a, 2), (b, bob, cafe_b, 3)):
        for n in (a, b):
            try:
                n.proc.wait_lines("WAITING", rnd - 1, timeout=30)
            except TimeoutError:
                raise AssertionError(f"no idle period before round {rnd}\n" + diag()) from None
        topo.move(node, target)
        for n in (a, b):
            n.send("GO")
    ra, rb = a.finish(timeout=60), b.finish(timeout=30)
    assert ra["rounds_ok"] == "3" and rb["rounds_ok"] == "3", diag()
    for n in (a, b):
        rounds = {int(r["r"]): float(r["ms"]) for r in n.rows("ROUND")}
        assert sorted(rounds) == [1, 2, 3], diag()
        for r in (2, 3):
            assert rounds[r] / 1000 < ROUND_BOUND_S, f"round {r} took {rounds[r]} ms\n" + diag()
    starter = {2: b, 3: a}
    for r, mover in ((2, "alice"), (3, "bob")):
        ms = {int(x["r"]): float(x["ms"]) for x in starter[r].rows("ROUND")}[r]
        record("idle past timeout", f"round {r} after idle, {mover} moved meanwhile", ms / 1000)
