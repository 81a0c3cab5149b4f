#!/usr/bin/env python3
"""What an idle node costs: wake-ups per second and CPU, with a tunnel up and keepalives on.

Two `ntm up` nodes (static-peer mode, loopback) bring their tunnel up with one `ntm ping`, then
nothing is sent for --seconds. For each node process the script counts, over that window, the
context switches of all its threads (each wake-up of a sleeping thread ends in one) and the CPU
time they used (/proc/PID/task/*/schedstat, nanoseconds). Beside them, in the same run, a
reference: a minimal program that only sends one UDP datagram per keepalive interval from a
blocking wait - the least a node that keeps NAT mappings open can do.

Goal (issue 17 item 8): <= 1 wake-up per second on average and < 0.1% of a core per node.
--baseline-build DIR runs a second pair from another build (e.g. one of an older commit) in the
same window, for a before/after comparison.

    python3 bench/idle.py [--build build] [--seconds 60] [--keepalive-ms 25000]
                          [--baseline-build DIR]

Loopback only; every process is started and stopped here (by PID).
"""
from __future__ import annotations

import argparse
import glob
import os
import select
import socket
import subprocess
import sys
import tempfile
import time


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample(pid: int) -> tuple[int, int, int]:
    """(context switches, CPU ns, threads) summed over the process's threads now."""
    switches = cpu = threads = 0
    for task in glob.glob(f"/proc/{pid}/task/*"):
        try:
            with open(task + "/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        switches += int(line.split()[1])
            with open(task + "/schedstat") as f:
                cpu += int(f.read().split()[0])
            threads += 1
        except FileNotFoundError:
            continue  # a thread that just ended
    return switches, cpu, threads


REFERENCE = r"""
import select, socket, sys, time
interval, port, seconds = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.monotonic() + seconds
while time.monotonic() < end:
    select.select([s], [], [], interval)
    s.sendto(b"k", ("127.0.0.1", port))
"""


def start_pair(label: str, ntm: str, tmp: str, keepalive_ms: int,
               procs: dict[str, subprocess.Popen]) -> None:
    """Starts alice and bob from `ntm` and brings their tunnel up with one ping."""
    keys = []
    for _ in range(2):
        out = subprocess.run([ntm, "keygen"], capture_output=True, text=True, check=True).stdout
        keys.append(out.split()[1::2])
    (a_priv, a_pub), (b_priv, b_pub) = keys
    a_udp, b_udp = free_udp_port(), free_udp_port()
    tag = label.strip() or "new"
    common = "log-level = warn\n"
    if not label:  # older builds may not know the key (nor keep the interval)
        common += f"keepalive-interval = {keepalive_ms}\n"
    confs = {
        "alice": f"name = alice.bench\nkey = {a_priv}\nvip4 = 100.64.0.1\n"
                 f"listen = 127.0.0.1:{a_udp}\ncontrol-socket = {tmp}/{tag}-alice.sock\n"
                 f"peer = bob.bench,{b_pub},127.0.0.1:{b_udp},100.64.0.2,\n" + common,
        "bob": f"name = bob.bench\nkey = {b_priv}\nvip4 = 100.64.0.2\n"
               f"listen = 127.0.0.1:{b_udp}\ncontrol-socket = {tmp}/{tag}-bob.sock\n"
               f"peer = alice.bench,{a_pub},127.0.0.1:{a_udp},100.64.0.1,\n" + common,
    }
    for name, text in confs.items():
        path = os.path.join(tmp, f"{tag}-{name}.conf")
        with open(path, "w") as f:
            f.write(text)
        procs[label + name] = subprocess.Popen([ntm, "up", "-c", path])
    for name in confs:
        deadline = time.monotonic() + 20
        while not os.path.exists(os.path.join(tmp, f"{tag}-{name}.sock")):
            if procs[label + name].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ntm up ({label}{name}) did not start")
            time.sleep(0.05)
    r = subprocess.run([ntm, "ping", "bob.bench", "-c", "1", "--socket",
                        os.path.join(tmp, f"{tag}-alice.sock")],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("the tunnel did not come up:\n" + r.stdout + r.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.environ.get("NTM_BUILD_DIR", "build"))
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--keepalive-ms", type=int, default=25000)
    ap.add_argument("--baseline-build", help="a second build to measure in the same window")
    args = ap.parse_args()
    builds = {"": args.build}
    if args.baseline_build:
        builds["baseline "] = args.baseline_build
    procs: dict[str, subprocess.Popen] = {}
    results: dict[str, tuple[float, float, int]] = {}
    sink_port = free_udp_port()
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", sink_port))
    try:
        with tempfile.TemporaryDirectory(prefix="ntm-bench-idle-") as tmp:
            for label, build in builds.items():
                start_pair(label, os.path.join(build, "cli", "ntm"), tmp, args.keepalive_ms,
                           procs)
            time.sleep(2)  # the handshake's and the ping's after-effects settle
            ref = subprocess.Popen([sys.executable, "-c", REFERENCE,
                                    str(args.keepalive_ms / 1000), str(sink_port),
                                    str(args.seconds + 5)])
            time.sleep(0.5)  # the interpreter's start-up is not part of the window
            watched = {f"{k} (ntm up)": p.pid for k, p in procs.items()}
            watched["reference"] = ref.pid
            before = {k: sample(p) for k, p in watched.items()}
            start = time.monotonic()
            time.sleep(args.seconds)
            elapsed = time.monotonic() - start
            after = {k: sample(p) for k, p in watched.items()}
            ref.kill()
            ref.wait()
            for k in watched:
                wakes = (after[k][0] - before[k][0]) / elapsed
                cpu = (after[k][1] - before[k][1]) / 1e9 / elapsed * 100
                results[k] = (wakes, cpu, after[k][2])
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        sink.close()
    print(f"idle: {args.seconds:g} s with the tunnel up, keepalive every {args.keepalive_ms} ms, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(f"{'process':<26} {'threads':>7} {'wake-ups/s':>11} {'CPU':>9}")
    ok = True
    for k, (wakes, cpu, threads) in results.items():
        print(f"{k:<26} {threads:>7} {wakes:>11.2f} {cpu:>8.3f}%")
        if k != "reference" and not k.startswith("baseline"):
            ok = ok and wakes <= 1.0 and cpu < 0.1
    print(f"goal: each node <= 1 wake-up/s and < 0.1% of a core: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
