#!/usr/bin/env python3
"""ntmobile vs kernel TCP through the same WAN emulator, interleaved in one run.

    sudo python3 bench/wan.py [--build build] [--seconds 8] [--rtts 0,10,20,50,100]
                              [--losses 0,0.1,1] [--streams 1,8] [--rate 100] [--bbr]
                              [--json FILE] [--plot FILE.png] [-v]

Three network namespaces: left and right hosts, and between them a middle one where
ntm-netem (bench/netem) forwards UDP with half the RTT of delay each way, the loss rate in each
direction, and a bottleneck of --rate Mbit/s each way with a queue of one bandwidth-delay
product (at least 128 KiB). Through that one emulator run, side by side:

- ntmobile: two nodes in static-peer mode (their tunnel's UDP crosses the emulator), TCP over
  the virtual addresses;
- kernel: TCP (CUBIC, set per socket) over a VXLAN device whose UDP crosses the same emulator;
  with --bbr also kernel TCP with BBR.

Each configuration (RTT x loss x streams) restarts the emulator with its impairment and then
measures each stack in turn (the first stack alternates between configurations), with
bench/ntm_wan_bench.cc: N TCP streams, goodput counted by the receiver within --seconds.
Prints a table with ratios, the machine load, optional JSON, and a PNG plot (matplotlib;
skipped with a note when it is not installed). Everything it starts is stopped by PID and its
namespaces are deleted on exit (python3 tests/netns/topology.py --cleanup PREFIX after a
SIGKILL). Exit status 1 if a measurement failed.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "netns"))
sys.path.insert(0, os.path.join(HERE, "netem"))

from topology import Topology  # noqa: E402

from netem import binary as netem_binary  # noqa: E402

LEFT4, MID_LEFT4 = "10.99.1.1", "10.99.1.2"
RIGHT4, MID_RIGHT4 = "10.99.2.1", "10.99.2.2"
VXLAN_LEFT, VXLAN_RIGHT = "192.168.99.1", "192.168.99.2"
VIP_LEFT, VIP_RIGHT = "100.64.99.1", "100.64.99.2"
VXLAN_PORT = 4789
NTM_PORT = 5555
SINK_PORT = 5301
READY_S = 30.0


def load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class WanPath(Topology):
    """left <-> middle (ntm-netem) <-> right; the middle is the topology's "inet" namespace."""

    def __init__(self, build: str, verbose: bool = False):
        super().__init__(servers=False, verbose=verbose)
        self.build_dir = build
        self.left = self._ns("left")
        self.right = self._ns("right")
        self.middle = self.inet_ns
        self.emulator = None

    def build(self) -> None:
        super().build()
        try:
            for ns in (self.left, self.right):
                self._add_ns(ns)
            self._veth(self.left, "wan0", self.middle, "left0")
            self._veth(self.right, "wan0", self.middle, "right0")
            for ns, dev, addr in ((self.left, "wan0", LEFT4), (self.middle, "left0", MID_LEFT4),
                                  (self.right, "wan0", RIGHT4),
                                  (self.middle, "right0", MID_RIGHT4)):
                self._x(ns, f"ip addr add {addr}/24 dev {dev}")
                self._x(ns, f"ip link set {dev} up")
            # The emulator forwards UDP payloads from user space: checksums (and segmentation)
            # the hosts would leave to the "hardware" must be done before the veth, or the
            # inner TCP checksums cross unfilled and the far end drops every segment.
            for ns in (self.left, self.right):
                self._x(ns, "ethtool -K wan0 tx off sg off tso off gso off")
            # Kernel path: VXLAN between the hosts, its UDP sent to the emulator's side.
            for ns, local, remote, inner in ((self.left, LEFT4, MID_LEFT4, VXLAN_LEFT),
                                             (self.right, RIGHT4, MID_RIGHT4, VXLAN_RIGHT)):
                self._x(ns, f"ip link add vx0 type vxlan id 99 local {local} remote {remote} "
                            f"dstport {VXLAN_PORT} srcport {VXLAN_PORT} {VXLAN_PORT + 1} "
                            "nolearning")
                self._x(ns, "ip link set vx0 mtu 1450")
                self._x(ns, f"ip addr add {inner}/24 dev vx0")
                self._x(ns, "ip link set vx0 up")
        except BaseException:
            self.cleanup()
            raise

    def start_emulator(self, args: list) -> None:
        """(Re)starts ntm-netem in the middle with `args`; both paths' links, fixed peers."""
        self.stop_emulator()
        links = [f"{MID_LEFT4}:{VXLAN_PORT},{MID_RIGHT4}:{VXLAN_PORT},{LEFT4}:{VXLAN_PORT},"
                 f"{RIGHT4}:{VXLAN_PORT}",
                 f"{MID_LEFT4}:{NTM_PORT},{MID_RIGHT4}:{NTM_PORT},{LEFT4}:{NTM_PORT},"
                 f"{RIGHT4}:{NTM_PORT}"]
        argv = [netem_binary(self.build_dir, "ntm-netem"), *args]
        for link in links:
            argv += ["--link", link]
        self.emulator = self.run(self.middle, argv, label="netem")
        self.emulator.wait_lines("ready", 2, timeout=READY_S)

    def stop_emulator(self) -> dict:
        """Stops the emulator; its final counters (empty if none were printed)."""
        p, self.emulator = self.emulator, None
        if p is None:
            return {}
        p.send_signal(2)  # SIGINT: prints the counters and exits
        try:
            p.wait_exit(10)
        except TimeoutError:
            p.stop()
        stats = [l for l in p.lines if l.startswith("stats ")]
        return json.loads(stats[-1][6:]) if stats else {}


def keypair(build: str) -> tuple:
    out = subprocess.run([os.path.join(build, "examples", "c", "ntm-keygen")], check=True,
                         capture_output=True, text=True).stdout.split()
    return out[0], out[1]


def start_stacks(t: WanPath, build: str, bbr: bool) -> dict:
    """Sinks on the right, sources on the left: {stack: (source process, label)}."""
    tool = os.path.join(build, "bench", "ntm-wan-bench")
    left_key, right_key = keypair(build), keypair(build)
    ntm_right = ["--name", "right.wan", "--key", right_key[0], "--vip4", VIP_RIGHT,
                 "--listen", f"{RIGHT4}:{NTM_PORT}",
                 "--peer", f"left.wan,{left_key[1]},{MID_RIGHT4}:{NTM_PORT},{VIP_LEFT},"]
    ntm_left = ["--name", "left.wan", "--key", left_key[0], "--vip4", VIP_LEFT,
                "--listen", f"{LEFT4}:{NTM_PORT}",
                "--peer", f"right.wan,{right_key[1]},{MID_LEFT4}:{NTM_PORT},{VIP_RIGHT},"]
    sinks = {
        "ntm": t.run(t.right, [tool, "sink", "--stack", "ntm", "--port", str(SINK_PORT),
                               *ntm_right], label="ntm-sink"),
        "kernel": t.run(t.right, [tool, "sink", "--stack", "kernel", "--bind", VXLAN_RIGHT,
                                  "--port", str(SINK_PORT)], label="kernel-sink"),
    }
    targets = {}
    for name, p in sinks.items():
        targets[name] = p.wait_line("READY", READY_S).split("tcp=")[1]
    sources = {
        "ntm": [tool, "source", "--stack", "ntm", "--target", targets["ntm"], *ntm_left],
        "cubic": [tool, "source", "--stack", "kernel", "--cc", "cubic",
                  "--target", targets["kernel"]],
    }
    if bbr:
        sources["bbr"] = [tool, "source", "--stack", "kernel", "--cc", "bbr",
                          "--target", targets["kernel"]]
    out = {}
    for name, argv in sources.items():
        p = t.run(t.left, argv, label=f"{name}-source", stdin=subprocess.PIPE)
        p.wait_line("READY", READY_S)
        out[name] = p
    return out


def measure(p, streams: int, seconds: float) -> dict:
    """One 'run' command on a source; the RESULT fields, or {'error': line}."""
    start = len(p.lines)
    p.send_line(f"run {streams} {seconds}")
    deadline = time.monotonic() + seconds + 120
    while time.monotonic() < deadline:
        for line in p.lines[start:]:
            if line.startswith("RESULT") or line.startswith("ERROR"):
                if line.startswith("ERROR"):
                    return {"error": line}
                return {k: float(v) for k, v in (f.split("=") for f in line.split()[1:])}
        if p.poll() is not None:
            return {"error": f"source exited: {p.output()}"}
        time.sleep(0.05)
    return {"error": "no result in time"}


def emulator_args(rtt_ms: float, loss_pct: float, rate: float, seed: int) -> list:
    bdp = int(rate * 1e6 / 8 * rtt_ms / 1000)
    queue = max(128 * 1024, bdp)
    return ["--delay", f"{rtt_ms / 2:g}", "--loss", f"{loss_pct:g}", "--rate", f"{rate:g}",
            "--queue", str(queue), "--seed", str(seed)]


def plot(results: list, path: str, stacks: list, rate: float) -> str:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "plot skipped: matplotlib not installed (pip install matplotlib)"
    labels = {"ntm": "ntmobile", "cubic": "kernel CUBIC (VXLAN)", "bbr": "kernel BBR (VXLAN)"}
    styles = {1: "-", 8: "--"}
    rtts = sorted({r["rtt"] for r in results})
    losses = sorted({r["loss"] for r in results})
    streams = sorted({r["streams"] for r in results})
    loss_rtt = 20 if 20 in rtts else max(rtts)
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))

    def series(stack, n, key, fixed_key, fixed):
        pts = sorted((r[key], r["mbps"].get(stack)) for r in results
                     if r["streams"] == n and r[fixed_key] == fixed and
                     r["mbps"].get(stack) is not None)
        return [x for x, _ in pts], [y for _, y in pts]

    for stack in stacks:
        for n in streams:
            x, y = series(stack, n, "rtt", "loss", min(losses))
            a.plot(x, y, styles.get(n, ":"), marker="o",
                   label=f"{labels[stack]}, {n} stream{'s' if n > 1 else ''}")
            x, y = series(stack, n, "loss", "rtt", loss_rtt)
            b.plot([max(v, 0.01) for v in x], y, styles.get(n, ":"), marker="o",
                   label=f"{labels[stack]}, {n} stream{'s' if n > 1 else ''}")
    a.set(xlabel="round-trip time added (ms)", ylabel="goodput (Mb/s)",
          title=f"vs RTT (loss {min(losses):g} %, {rate:g} Mb/s bottleneck)")
    b.set(xlabel="loss each way (%; 0 drawn at 0.01)", ylabel="goodput (Mb/s)", xscale="log",
          title=f"vs loss (RTT {loss_rtt:g} ms)")
    for ax in (a, b):
        ax.grid(True, alpha=0.3)
        ax.set_ylim(bottom=0)
    a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return f"plot written to {path}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.environ.get("NTM_BUILD_DIR", "build"))
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--rtts", default="0,10,20,50,100")
    ap.add_argument("--losses", default="0,0.1,1")
    ap.add_argument("--streams", default="1,8")
    ap.add_argument("--rate", type=float, default=100.0, help="bottleneck Mbit/s")
    ap.add_argument("--bbr", action="store_true", help="also kernel TCP with BBR")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--plot", help="PNG file for the plot (default: none)")
    ap.add_argument("-v", "--verbose", action="store_true")
    o = ap.parse_args()
    if os.geteuid() != 0:
        print("wan.py: needs root (network namespaces)", file=sys.stderr)
        return 2
    build = os.path.abspath(o.build)
    rtts = [float(x) for x in o.rtts.split(",")]
    losses = [float(x) for x in o.losses.split(",")]
    streams = [int(x) for x in o.streams.split(",")]
    started = time.monotonic()
    print(f"wan.py: {o.rate:g} Mb/s bottleneck, {o.seconds:g} s per measurement; "
          f"load {load()} at start")
    results, failed = [], 0
    with WanPath(build, verbose=o.verbose) as t:
        sources = start_stacks(t, build, o.bbr)
        stacks = list(sources)
        header = (f"{'RTT ms':>6} {'loss %':>6} {'str':>3} | " +
                  " | ".join(f"{s + ' Mb/s':>11}" for s in stacks) +
                  " | ntm/cubic" + (" | ntm/bbr" if o.bbr else "") + " | emu drops q/loss")
        print(header)
        print("-" * len(header))
        n = 0
        for rtt in rtts:
            for loss in losses:
                for k in streams:
                    t.start_emulator(emulator_args(rtt, loss, o.rate, seed=n + 1))
                    order = stacks[n % len(stacks):] + stacks[:n % len(stacks)]
                    n += 1
                    row = {"rtt": rtt, "loss": loss, "streams": k, "mbps": {}, "errors": {}}
                    for s in order:
                        r = measure(sources[s], k, o.seconds)
                        if "error" in r:
                            failed += 1
                            row["errors"][s] = r["error"]
                        else:
                            row["mbps"][s] = r["mbps"]
                    stats = t.stop_emulator()
                    drops = (0, 0, 0)
                    if stats:
                        dirs = [d for l in stats["links"] for d in (l["a2b"], l["b2a"])]
                        drops = (sum(d["dropped_queue"] for d in dirs),
                                 sum(d["lost_random"] for d in dirs),
                                 stats.get("udp_rcvbuf_errors", 0))
                    row["emulator_drops"] = {"queue": drops[0], "loss": drops[1],
                                             "kernel": drops[2]}
                    results.append(row)
                    m = row["mbps"]

                    def ratio(a, b):
                        return f"{m[a] / m[b]:.2f}" if m.get(a) and m.get(b) else "-"
                    cells = " | ".join(f"{m[s]:>11.1f}" if s in m else f"{'failed':>11}"
                                       for s in stacks)
                    print(f"{rtt:>6g} {loss:>6g} {k:>3} | {cells} | {ratio('ntm', 'cubic'):>9}"
                          + (f" | {ratio('ntm', 'bbr'):>7}" if o.bbr else "")
                          + f" | {drops[0]}/{drops[1]}"
                          + (f" KERNEL DROPS {drops[2]}" if drops[2] else ""), flush=True)
                    for s, e in row["errors"].items():
                        print(f"    {s}: {e}")
    print(f"load {load()} at end; {time.monotonic() - started:.0f} s")
    if o.json:
        with open(o.json, "w") as f:
            json.dump({"rate_mbps": o.rate, "seconds": o.seconds, "results": results}, f,
                      indent=1)
    if o.plot:
        print(plot(results, o.plot, stacks, o.rate))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
