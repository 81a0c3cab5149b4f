#!/usr/bin/env python3
"""The seed's Table 2 in network namespaces: handover between two NATs.

A node (alice, behind NAT A) keeps a paced TCP transfer and a UDP stream running to bob
(global4 by default) through ntmobile, in control-plane mode with ntm-server in the servers
namespace. Its veth is moved from NAT A to NAT B and back, --moves times (default 10), each move
giving it a new private and a new public address. For every move the time is measured from the
moment the new address and default route were configured (topology.attach) to the first data
acknowledged on the new path (the client sees the server's application-level acknowledgement of
its bytes grow), both on CLOCK_MONOTONIC, which all namespaces share. The seed measured 83 ms
for this (plus 5.8 s of DHCP, which is not ntmobile's); the target is <= 10 ms.

Run as root from the repository (builds nothing; NTM_BUILD_DIR names the build, default build/):

    sudo python3 bench/mobility.py                   # 10 moves, control-plane mode, peer global4
    sudo python3 bench/mobility.py --moves 20 --peer nat4
    sudo python3 bench/mobility.py --mode static     # static-peer mode: no DC, engine roaming only
    sudo python3 bench/mobility.py --check           # exit 1 if mean or max misses the target

The transfer's integrity is checked at the end (SHA-256 both ways, one connection, the UDP
stream resumed); the exit status is non-zero if a move did not recover or the check failed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "netns"))

from topology import Topology  # noqa: E402
import test_mobility as tm  # noqa: E402  (MobileRun: the driver the namespace tests use)
from test_matrix import server_program, start_servers  # noqa: E402
from ntm_node import missing_binaries  # noqa: E402

SEED_MEAN_MS = 83.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moves", type=int, default=10, help="number of moves (default 10)")
    ap.add_argument("--interval", type=float, default=1.0,
                    help="seconds of transfer after a recovery before the next move (default 1)")
    ap.add_argument("--rate-mbps", type=float, default=20.0,
                    help="paced transfer rate each way (default 20)")
    ap.add_argument("--peer", choices=["global4", "nat4"], default="global4",
                    help="where bob is (default global4)")
    ap.add_argument("--mode", choices=["control", "static"], default="control",
                    help="control-plane mode with ntm-server (default) or static-peer mode")
    ap.add_argument("--target-ms", type=float, default=10.0, help="target (default 10 ms)")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if the mean or the max exceeds the target")
    ap.add_argument("--verbose", action="store_true", help="print the nodes' output at the end")
    a = ap.parse_args()

    if os.geteuid() != 0:
        print("mobility.py: needs root (network namespaces)", file=sys.stderr)
        return 2
    missing = missing_binaries()
    if a.mode == "control" and server_program() is None:
        missing.append("ntm-server")
    if missing:
        print(f"mobility.py: not built: {missing} (build first; NTM_BUILD_DIR)", file=sys.stderr)
        return 2
    if a.mode == "static" and a.peer != "global4":
        print("mobility.py: static-peer mode needs a reachable server: --peer global4",
              file=sys.stderr)
        return 2
    if a.moves < 1:
        ap.error("--moves must be >= 1")

    state = tempfile.mkdtemp(prefix="ntm-mobility-")
    moves: list[tm.Move] = []
    failure = None
    run = None
    try:
        with Topology() as t:
            if a.mode == "control":
                start_servers(t, state)
            nat_a, nat_b = t.add_nat("a"), t.add_nat("b")
            alice = t.add_node("alice", "nat4", nat=nat_a)
            bob = t.add_node("bob", a.peer)
            # Long enough for every move: pacing does not catch up after an outage, so each
            # cycle uses about `interval` of transfer time; 0.5 s of margin per move.
            seconds = 3.0 + a.moves * (a.interval + 0.5)
            run = tm.MobileRun(t, bob, alice, state_dir=state if a.mode == "control" else None,
                               seconds=seconds, rate_mbps=a.rate_mbps, log="warn")
            print(f"mobility bench: {a.moves} moves between two NATs, {a.mode} mode, peer "
                  f"{a.peer}, {a.rate_mbps:g} Mb/s each way + UDP every {tm.UDP_INTERVAL_MS} ms",
                  flush=True)
            try:
                run.start()
                time.sleep(a.interval)
                here = nat_a
                for i in range(a.moves):
                    there = nat_b if here is nat_a else nat_a
                    m = run.move(alice, there, label=f"{i + 1}: NAT {here.name} -> {there.name}")
                    moves.append(m)
                    run.wait_recovered(m)
                    print(f"  move {i + 1:2d}: NAT {here.name} -> {there.name}  "
                          f"{m.latency_ms:7.1f} ms  (attach {1000 * (m.t_configured - m.t_detached):.1f}"
                          f" ms)", flush=True)
                    here = there
                    time.sleep(a.interval)
                run.finish()
            except AssertionError as e:
                failure = str(e)
            if a.verbose and run is not None and failure is None:
                print(run.diag())
    finally:
        shutil.rmtree(state, ignore_errors=True)

    done = [m.latency_ms for m in moves if m.latency_ms is not None]
    print()
    print("Table 2 (seed): handover between two NATs - time from the new address being "
          "configured")
    print("to the first data acknowledged on the new path")
    print()
    rows = [("", "mean", "max", "min", "moves"),
            ("seed (NTMobile)", f"{SEED_MEAN_MS:.0f} ms", "-", "-", "-")]
    if done:
        rows.append((f"ntmobile ({a.mode}, peer {a.peer})", f"{statistics.mean(done):.1f} ms",
                     f"{max(done):.1f} ms", f"{min(done):.1f} ms",
                     f"{len(done)}/{a.moves}"))
    else:
        rows.append((f"ntmobile ({a.mode}, peer {a.peer})", "-", "-", "-", f"0/{a.moves}"))
    rows.append(("target", f"<= {a.target_ms:g} ms", f"<= {a.target_ms:g} ms", "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths)))
    print("(negative: data was acknowledged before the default route was in place)")
    if failure is not None:
        print("\nFAILED:", failure, file=sys.stderr)
        return 1
    print("\ntransfer: SHA-256 both ways matched, one connection, UDP resumed after every move")
    if done and (statistics.mean(done) > a.target_ms or max(done) > a.target_ms):
        print(f"target missed: mean {statistics.mean(done):.1f} ms, max {max(done):.1f} ms "
              f"(target {a.target_ms:g} ms)")
        return 1 if a.check else 0
    print("target met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
