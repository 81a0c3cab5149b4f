"""Moves under checksummed sessions: both ends moving at once, and a link flapping 10 times.
Every event is followed by progress on every session within a bound (recovery = from the moment
the new uplink is configured to the first echoed and verified burst on every session)."""
import threading
import time

from conftest import record
from field_run import SessionsRun

BOTH_BOUND_S = 3.0
FLAP_BOUND_S = 3.0
FLAPS = 10
FLAP_DOWN_S = 0.3


def test_both_ends_move_at_once(topo, servers):
    home_a, cafe_a = topo.add_nat("home-a"), topo.add_nat("cafe-a")
    home_b, cafe_b = topo.add_nat("home-b"), topo.add_nat("cafe-b")
    alice = topo.add_node("alice", "nat4", nat=home_a)
    bob = topo.add_node("bob", "nat4", nat=home_b)
    run = SessionsRun(topo, servers, bob, alice, sessions=2, duration_s=12, gap_ms="5-20")
    run.wait_flowing()
    for rnd, (a_to, b_to) in enumerate(((cafe_a, cafe_b), (home_a, home_b)), start=1):
        go = threading.Barrier(2)
        done: dict = {}

        def move(node, to):
            go.wait(timeout=5)
            done[node.name] = topo.move(node, to)

        threads = [threading.Thread(target=move, args=(n, to))
                   for n, to in ((alice, a_to), (bob, b_to))]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=30)
        assert len(done) == 2, f"a move failed: {done}\n" + run.diag()
        t_event = max(done.values())
        took = run.recovery(f"both moved ({rnd})", t_event, timeout=BOTH_BOUND_S + 10)
        record("both ends move", f"round {rnd}: alice -> {a_to.name}, bob -> {b_to.name}", took)
        assert took < BOTH_BOUND_S, f"recovery took {took:.3f} s\n" + run.diag()
        time.sleep(0.5)
    run.finish()


def test_a_link_flapping_ten_times(topo, servers):
    home = topo.add_nat("home")
    alice = topo.add_node("alice", "nat4", nat=home)
    bob = topo.add_node("bob", "global4")
    run = SessionsRun(topo, servers, bob, alice, sessions=2, duration_s=FLAPS * 2.5 + 5,
                      gap_ms="5-20")
    run.wait_flowing()
    worst = 0.0
    for i in range(FLAPS):
        topo.detach(alice)
        time.sleep(FLAP_DOWN_S)
        t_up = topo.attach(alice, home)
        took = run.recovery(f"flap {i + 1}", t_up, timeout=FLAP_BOUND_S + 10)
        worst = max(worst, took)
        assert took < FLAP_BOUND_S, f"flap {i + 1}: recovery took {took:.3f} s\n" + run.diag()
        time.sleep(0.3)
    record("link flapping", f"{FLAPS} flaps ({FLAP_DOWN_S} s down): worst recovery", worst)
    run.finish()
