#!/usr/bin/env python3
"""A soak of sessions that never die: checksummed TCP sessions between alice and bob (each
behind a NAT of its own, control-plane mode, AS/DC/RS as separate processes) for --minutes,
while random events happen one after another: alice moves to another NAT, bob moves, both move
at once, the link flaps, a long idle gap past the idle timeout (--idle-timeout-ms, default 3 s)
and, with --restarts, the DC or the RS is killed (-9) and started again. After every event the
soak waits until every session has verified new data (bounded by --recovery-bound) and records
the time. At the end it prints a table: sessions alive, bytes verified, worst stall (the longest
burst round trip any session saw), and per event kind the count and the median/max recovery.

Run as root from the repository (builds nothing; NTM_BUILD_DIR names the build, default build/):

    sudo python3 bench/soak.py --minutes 30               # the long soak, outside CI
    sudo python3 bench/soak.py --minutes 30 --restarts    # with server restarts (issue 12 item 3)
    sudo python3 bench/soak.py --minutes 0.5              # the smoke ci/suites/faults.sh runs

Exit status 1 if a session died, data was corrupted, or an event did not recover in time.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "faults"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "netns"))

from field_run import Servers, SessionsRun, missing_binaries  # noqa: E402
from topology import Topology  # noqa: E402


def move_both(t: Topology, a, a_to, b, b_to) -> float:
    go = threading.Barrier(2)
    done: dict = {}

    def one(node, to):
        go.wait(timeout=5)
        done[node.name] = t.move(node, to)

    threads = [threading.Thread(target=one, args=x) for x in ((a, a_to), (b, b_to))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    if len(done) != 2:
        raise AssertionError(f"moving both failed: {done}")
    return max(done.values())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--sessions", type=int, default=3)
    ap.add_argument("--restarts", action="store_true", help="also kill and restart the DC / RS")
    ap.add_argument("--idle-timeout-ms", type=int, default=3000)
    ap.add_argument("--gap", type=float, default=2.0,
                    help="mean seconds of plain traffic between events (default 2)")
    ap.add_argument("--recovery-bound", type=float, default=20.0,
                    help="seconds an event may take to recover (default 20)")
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("soak.py: needs root (network namespaces)", file=sys.stderr)
        return 2
    missing = missing_binaries()
    if missing:
        print(f"soak.py: not built: {missing} (build first; NTM_BUILD_DIR)", file=sys.stderr)
        return 2
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    kinds = ["alice moves", "bob moves", "both move", "link flap", "idle gap"]
    if a.restarts:
        kinds += ["DC restart", "RS restart"]
    recoveries: dict[str, list[float]] = {k: [] for k in kinds}
    failure = None
    res: dict = {}
    print(f"soak: {a.minutes:g} min, {a.sessions} sessions, seed {seed}, events: "
          f"{', '.join(kinds)}; load average {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="ntm-soak-") as state, Topology() as t:
        servers = Servers(t, state, accounts=("alice", "bob"))
        servers.start()
        nats_a = [t.add_nat("a1"), t.add_nat("a2")]
        nats_b = [t.add_nat("b1"), t.add_nat("b2")]
        alice = t.add_node("alice", "nat4", nat=nats_a[0])
        bob = t.add_node("bob", "nat4", nat=nats_b[0])
        where = {"alice": 0, "bob": 0}
        duration = a.minutes * 60
        idle_ms = a.idle_timeout_ms + 1000
        run = SessionsRun(t, servers, bob, alice, sessions=a.sessions, duration_s=duration + 60,
                          gap_ms="5-50", stall_s=a.recovery_bound + 10,
                          extra=["--idle-timeout", str(a.idle_timeout_ms)])
        end = time.monotonic() + duration
        try:
            run.wait_flowing(timeout=30)
            while time.monotonic() < end:
                time.sleep(rng.uniform(0.5, 1.5) * a.gap)
                kind = rng.choice(kinds)
                if kind == "alice moves" or kind == "bob moves":
                    node, nats = (alice, nats_a) if kind == "alice moves" else (bob, nats_b)
                    where[node.name] ^= 1
                    t_event = t.move(node, nats[where[node.name]])
                elif kind == "both move":
                    where["alice"] ^= 1
                    where["bob"] ^= 1
                    t_event = move_both(t, alice, nats_a[where["alice"]], bob,
                                        nats_b[where["bob"]])
                elif kind == "link flap":
                    t.detach(alice)
                    time.sleep(rng.uniform(0.1, 1.0))
                    t_event = t.attach(alice, nats_a[where["alice"]])
                elif kind == "idle gap":
                    # Pause the client's sessions past the idle timeout: every tunnel goes idle.
                    run.client.send(f"PAUSE {idle_ms}")
                    t_event = time.monotonic() + idle_ms / 1000
                    time.sleep(idle_ms / 1000)
                else:
                    role = "dc" if kind == "DC restart" else "rs"
                    servers.kill(role)
                    t_event = servers.start(role)
                took = run.recovery(kind, t_event, timeout=a.recovery_bound)
                recoveries[kind].append(took)
                print(f"  {time.monotonic() - (end - duration):7.1f} s  {kind:12s} recovered in "
                      f"{took * 1000:8.1f} ms", flush=True)
            res = run.finish()
        except AssertionError as e:
            failure = str(e).splitlines()[0]
            print(str(e)[-6000:], file=sys.stderr)
    print()
    print(f"soak summary (seed {seed}, load average {os.getloadavg()[0]:.1f} at the end)")
    print(f"  sessions alive   {res.get('alive', '?')} of {a.sessions}")
    print(f"  bytes verified   {res.get('bytes_verified', '?')}")
    print(f"  worst stall      {res.get('worst_stall_ms', '?')} ms")
    print(f"  {'event':12s} {'count':>5s} {'median ms':>10s} {'max ms':>10s}")
    for kind, vals in recoveries.items():
        med = f"{statistics.median(vals) * 1000:.1f}" if vals else "-"
        mx = f"{max(vals) * 1000:.1f}" if vals else "-"
        print(f"  {kind:12s} {len(vals):5d} {med:>10s} {mx:>10s}")
    if failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
