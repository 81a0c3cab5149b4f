#!/usr/bin/env python3
"""Packet rate of ntm-netem: datagrams forwarded per second of the emulator's own CPU time.

    python3 bench/netem/pps.py [--build build] [--seconds 3] [--size 100] [--window 1024]

Runs the emulator on loopback and ntm-netem-probe through it (closed loop: at most --window
datagrams in flight, so nothing overflows), once unimpaired and once with a delay line
(10 ms each way, 0.1 % loss: thousands of datagrams in the time-ordered queue). On 2 cores the
probe (which sends and receives every datagram, the same system calls as the emulator) takes
the other core, so the achieved rate is shared between them; the figure that is the
emulator's own is "per core" = forwarded / the emulator's CPU seconds. Goal: >= 150k/s.
Prints the machine load next to the figures. Exit status 1 if a run failed.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netem import Emulator, probe  # noqa: E402

GOAL_PPS = 150_000


def load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def measure(build: str, name: str, args: list, seconds: float, size: int, window: int) -> dict:
    with Emulator(build, args, ["127.0.0.1:0,127.0.0.1:0"]) as emu:
        a, b = emu.sides[0]
        before = emu.snapshot()
        r = probe(build, a, b, "--seconds", str(seconds), "--size", str(size),
                  "--window", str(window), timeout=seconds + 60)
        after = emu.snapshot()
    fwd = (after["links"][0]["a2b"]["forwarded"] - before["links"][0]["a2b"]["forwarded"])
    cpu = after["cpu_s"] - before["cpu_s"]
    wall = after["elapsed_s"] - before["elapsed_s"]
    return {"name": name, "forwarded": fwd, "wall_pps": fwd / wall, "cpu_share": cpu / wall,
            "per_core_pps": fwd / cpu if cpu > 0 else 0.0, "lost": r["lost"],
            "p50_us": r["delay_us"]["p50"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--window", type=int, default=1024)
    o = ap.parse_args()
    runs = [("unimpaired", []),
            ("10 ms + 0.1% loss", ["--delay", "10", "--loss", "0.1"])]
    print(f"ntm-netem packet rate, {o.size}-byte datagrams, window {o.window}, "
          f"{o.seconds:g} s per run; load before: {load()}")
    print(f"{'run':<20} {'forwarded':>10} {'pps (wall)':>11} {'emu CPU':>8} "
          f"{'pps per core':>13} {'lost':>6} {'delay p50':>10}")
    ok = True
    for name, args in runs:
        window = o.window * (4 if args else 1)  # keep the 10 ms delay line busy
        try:
            m = measure(o.build, name, args, o.seconds, o.size, window)
        except Exception as e:  # report and go on with the other run
            print(f"{name:<20} failed: {e}")
            ok = False
            continue
        print(f"{name:<20} {m['forwarded']:>10} {m['wall_pps']:>11.0f} "
              f"{m['cpu_share'] * 100:>7.0f}% {m['per_core_pps']:>13.0f} {m['lost']:>6} "
              f"{m['p50_us'] / 1000:>8.2f}ms  "
              f"{'>=' if m['per_core_pps'] >= GOAL_PPS else '<'} goal {GOAL_PPS}")
    print(f"load after: {load()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
