#!/usr/bin/env python3
"""Control-plane benchmark: tunnel set-up time and TCP throughput, direct and relayed, in one run.

    sudo python3 bench/control_plane.py [--build build] [--runs 10] [--seconds 5]

Builds the namespace network of tests/netns/topology.py (an "internet", a servers namespace,
node namespaces; root only), runs ntm-server (AS + DC + RS, accounts alice and bob) in the
servers namespace, and measures two pairs in the same run:

  direct   alice nat4 -> bob nat4 (each behind its own NAT; --direct global4 for two global4 nodes)
  relay    alice global4 -> bob v6only (no common address family: the DC assigns the RS)

Set-up time: for every run a fresh pair of node processes (build/bench/ntm-cp-bench) starts, so
no tunnel exists; bob serves a TCP echo, alice logs in and registers (ntm_start), then measures
with the monotonic clock, inside its own process, from its ntm_getaddrinfo("bob.<domain>") call
(which makes the DC direct both ends) to the first byte echoed back over TCP. Runs alternate
between the pairs; one warm-up run per pair (ARP/ND caches, page cache) is printed, not counted.
Throughput: one TCP stream of --seconds over each pair, --tput-runs times alternating between the
pairs (median shown; 1 MiB writes, the receiver replies with its byte count, as bench/ntm_bench.cc
does), after the set-up runs, in the same topology, each on a fresh pair of processes.

A benchmark, not a test: it prints figures and asserts no speed. It exits non-zero only when a
measurement could not be made. Traffic stays inside the namespaces it creates; every process it
starts is stopped by PID and the namespaces are deleted on exit (also on Ctrl-C / SIGTERM).
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "netns"))

from topology import (SERVERS_IPV4, SERVERS_IPV6, Node, NsProcess, Topology,  # noqa: E402
                      endpoint, wait_until)

DOMAIN = "example"
AS_PORT, DC_PORT, RS_PORT = 7800, 7801, 7802
PASSWORD = "correct horse battery staple"
ECHO_PORT = 5301                # virtual; the sink is ECHO_PORT + 1
RUN_TIMEOUT_S = 30              # one set-up run, both processes (bounded)


def fields(line: str) -> dict:
    """'WORD k=v k=v' -> {'k': 'v', ...}."""
    out = {}
    for part in line.split()[1:]:
        k, sep, v = part.partition("=")
        if sep:
            out[k] = v
    return out


def find_build(arg: str) -> str:
    for cand in (arg, os.path.join(REPO, arg)):
        if os.path.isdir(cand):
            return os.path.abspath(cand)
    sys.exit(f"control_plane.py: build directory {arg!r} not found")


class Bench:
    def __init__(self, t: Topology, build: str, state: str, args):
        self.t = t
        self.build = build
        self.state = state
        self.args = args
        self.node_prog = os.path.join(build, "bench", "ntm-cp-bench")
        self.server_prog = os.path.join(build, "servers", "ntm-server")
        for p in (self.node_prog, self.server_prog):
            if not os.access(p, os.X_OK):
                sys.exit(f"control_plane.py: {p} not found; build first: "
                         f"cmake --build {build} --target ntm-cp-bench ntm-server")

    # ---- servers ----

    def start_servers(self) -> NsProcess:
        srv = self.server_prog
        for account in ("alice", "bob"):
            subprocess.run([srv, "accounts", "add", account, "--password", PASSWORD,
                            "--state", self.state], check=True, capture_output=True, timeout=30)
        argv = [srv, "run", "--state", self.state, "--domain", DOMAIN]
        for ip in (SERVERS_IPV4, f"[{SERVERS_IPV6}]"):  # dual stack: v6only nodes use IPv6
            argv += ["--listen-as", f"{ip}:{AS_PORT}", "--listen-dc", f"{ip}:{DC_PORT}",
                     "--listen-rs", f"{ip}:{RS_PORT}"]
        p = self.t.run(self.t.servers, argv, label="ntm-server")
        self.server_pid = p.pid  # `ip netns exec` execs the program: this is ntm-server's PID

        def listening() -> bool:
            if p.poll() is not None:
                raise RuntimeError("ntm-server exited\n" + p.output())
            tcp = self.t.exec(self.t.servers, ["ss", "-Hltn"]).stdout
            udp = self.t.exec(self.t.servers, ["ss", "-Hlun"]).stdout
            return f":{AS_PORT} " in tcp and f":{DC_PORT} " in udp and f":{RS_PORT} " in udp

        wait_until(listening, timeout=15, what="ntm-server listening")
        return p

    # ---- nodes ----

    def node_argv(self, node: Node, account: str, role: str, extra: list) -> list:
        as_ep = endpoint(SERVERS_IPV4 if node.ipv4 else SERVERS_IPV6, AS_PORT)
        argv = [self.node_prog, role, "--server", as_ep,
                "--server-cert", os.path.join(self.state, "as-tls.pem"),
                "--account", account, "--password", PASSWORD, "--timeout", str(RUN_TIMEOUT_S +
                                                                             self.args.seconds)]
        if self.args.direct_timeout:
            argv += ["--direct-timeout", str(self.args.direct_timeout)]
        if self.args.virtual == 6:
            argv.append("-6")
        return argv + extra

    def server_cpu_s(self) -> float:
        """CPU time (user + system) ntm-server has used so far, from /proc."""
        with open(f"/proc/{self.server_pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")

    def one_run(self, a: Node, b: Node, seconds: float = 0) -> dict:
        """Fresh bob (server) on b and alice (client) on a; returns the client's SETUP fields
        (+ 'gbps' etc. from THROUGHPUT when seconds > 0, + 'login_ms'). Raises on failure."""
        t = self.t
        sink = ["--sink", "1"] if seconds > 0 else []
        srv = t.run(b, self.node_argv(b, "bob", "server", ["--port", str(ECHO_PORT), *sink]),
                    label=f"bob@{b.kind}")
        cli = None
        try:
            srv.wait_line("READY", timeout=20)
            extra = ["--connect", f"bob.{DOMAIN}:{ECHO_PORT}"]
            if seconds > 0:
                extra += ["--seconds", str(seconds)]
            cli = t.run(a, self.node_argv(a, "alice", "client", extra), label=f"alice@{a.kind}")
            rc = cli.wait_exit(RUN_TIMEOUT_S + seconds)
            setup = cli.lines_starting("SETUP")
            if rc != 0 or not setup or cli.lines_starting("ERROR"):
                raise RuntimeError(f"client failed (rc={rc})\n{cli.output()}\n{srv.output()}")
            out = fields(setup[0])
            out["login_ms"] = fields(cli.wait_line("LOGIN", timeout=1)).get("ms", "nan")
            if seconds > 0:
                tp = cli.lines_starting("THROUGHPUT")
                if not tp:
                    raise RuntimeError(f"no THROUGHPUT line\n{cli.output()}\n{srv.output()}")
                out.update({f"tp_{k}": v for k, v in fields(tp[0]).items()})
            try:
                srv.wait_exit(10)
            except TimeoutError:
                pass  # stopped below; the figures are in already
            return out
        finally:
            for p in (cli, srv):
                if p is not None:
                    p.stop()


def fmt_ms(v) -> str:
    if v is None:
        return "-"
    return f"{v:.1f} ms" if v >= 100 else f"{v:.2f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build", help="build directory (default build)")
    ap.add_argument("--runs", type=int, default=10, help="set-up runs per pair (default 10)")
    ap.add_argument("--warmup", type=int, default=1,
                    help="uncounted set-up runs per pair first (default 1)")
    ap.add_argument("--seconds", type=float, default=5.0,
                    help="TCP throughput stream length per pair (default 5; 0 skips it)")
    ap.add_argument("--tput-runs", type=int, default=3,
                    help="throughput streams per pair, alternating; the median is shown "
                         "(default 3)")
    ap.add_argument("--direct", choices=("nat4", "global4"), default="nat4",
                    help="kind of both nodes of the direct pair (default nat4)")
    ap.add_argument("--virtual", type=int, choices=(4, 6), default=4,
                    help="virtual address family used by the TCP connections (default 4)")
    ap.add_argument("--direct-timeout", type=int, default=0,
                    help="nodes' hole-punching bound in ms (default: the library's, 1000)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every run's details")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("control_plane.py: network namespaces need root")
    if not 1 <= args.runs <= 1000 or not 0 <= args.warmup <= 10 or not 0 <= args.seconds <= 120 \
            or not 1 <= args.tput_runs <= 20:
        sys.exit("control_plane.py: --runs 1..1000, --warmup 0..10, --seconds 0..120, "
                 "--tput-runs 1..20")
    build = find_build(args.build)
    build_type = "?"
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith("CMAKE_BUILD_TYPE"):
                    build_type = line.strip().split("=", 1)[1] or "(none)"
    except OSError:
        pass
    print(f"control_plane.py: {datetime.date.today()} on {platform.node()} "
          f"({platform.system()} {platform.release()} {platform.machine()}), "
          f"{os.cpu_count()} CPUs, build {build} ({build_type}); all namespaces on one host, "
          f"no added delay; load average {os.getloadavg()[0]:.1f}", flush=True)

    state = tempfile.mkdtemp(prefix="ntm-cp-bench-")
    failures = 0
    try:
        with Topology() as t:
            bench = Bench(t, build, state, args)
            bench.start_servers()
            pairs = {
                "direct": (t.add_node("da", args.direct), t.add_node("db", args.direct)),
                "relay": (t.add_node("ra", "global4"), t.add_node("rb", "v6only")),
            }
            print(f"topology {t.prefix}: direct pair {args.direct}->{args.direct}, relay pair "
                  f"global4->v6only; client alice resolves bob.{DOMAIN}; "
                  f"{args.runs} runs per pair after {args.warmup} warm-up; virtual "
                  f"IPv{args.virtual}", flush=True)
            samples = {k: [] for k in pairs}
            paths = {k: {} for k in pairs}
            tput = {k: [] for k in pairs}
            total_rounds = args.warmup + args.runs
            for i in range(total_rounds):
                warm = i < args.warmup
                for name, (a, b) in pairs.items():
                    tag = f"{'warm-up' if warm else 'run'} {i + 1 - (0 if warm else args.warmup)}"
                    try:
                        r = bench.one_run(a, b)
                    except (RuntimeError, TimeoutError) as e:
                        failures += 1
                        print(f"  {name:6} {tag}: FAILED: {e}", flush=True)
                        continue
                    line = (f"  {name:6} {tag:9}: set-up {float(r['total_ms']):8.2f} ms "
                            f"(resolve {float(r['resolve_ms']):.2f}, connect "
                            f"{float(r['connect_ms']):.2f}, echo {float(r['echo_ms']):.2f}) "
                            f"path={r['path']} endpoint={r['endpoint']} "
                            f"[login+register {float(r['login_ms']):.1f} ms]")
                    if args.verbose or warm or i == args.warmup:
                        print(line, flush=True)
                    if not warm:
                        samples[name].append(r)
                        paths[name][r["path"]] = paths[name].get(r["path"], 0) + 1
                if not warm and not args.verbose:
                    done = i + 1 - args.warmup
                    if done % 5 == 0 or done == args.runs:
                        print(f"  ... {done}/{args.runs} runs", flush=True)
            if args.seconds > 0:
                for i in range(args.tput_runs):
                    for name, (a, b) in pairs.items():
                        cpu0 = bench.server_cpu_s()
                        try:
                            r = bench.one_run(a, b, seconds=args.seconds)
                        except (RuntimeError, TimeoutError) as e:
                            failures += 1
                            print(f"  {name:6} throughput: FAILED: {e}", flush=True)
                            continue
                        # ntm-server's CPU over the whole run (log-ins, set-up, the stream), shown
                        # against the stream's length: for the relay pair it is mostly the RS.
                        srv_cpu = bench.server_cpu_s() - cpu0
                        tput[name].append(float(r["tp_gbps"]))
                        print(f"  {name:6} throughput: {float(r['tp_gbps']):.3f} Gb/s "
                              f"({int(r['tp_bytes']) / 2**20:.0f} MiB in "
                              f"{float(r['tp_seconds']):.2f} s) path={r['tp_path']} "
                              f"endpoint={r['tp_endpoint']}; ntm-server used {srv_cpu:.2f} s CPU "
                              f"(= {100 * srv_cpu / float(r['tp_seconds']):.0f}% of a core "
                              f"over the stream)", flush=True)
    except KeyboardInterrupt:
        print("control_plane.py: interrupted; namespaces removed", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(state, ignore_errors=True)

    # ---- the table ----
    def col(name, key, how):
        vals = [float(r[key]) for r in samples[name]]
        if not vals:
            return "failed"
        v = {"mean": statistics.fmean, "median": statistics.median, "max": max,
             "min": min}[how](vals)
        return fmt_ms(v)

    rows = [
        ("set-up time mean", lambda n: col(n, "total_ms", "mean")),
        ("set-up time median", lambda n: col(n, "total_ms", "median")),
        ("set-up time max", lambda n: col(n, "total_ms", "max")),
        ("set-up time min", lambda n: col(n, "total_ms", "min")),
        ("  resolve (median)", lambda n: col(n, "resolve_ms", "median")),
        ("  connect (median)", lambda n: col(n, "connect_ms", "median")),
        ("  1st echo (median)", lambda n: col(n, "echo_ms", "median")),
        ("path seen", lambda n: ", ".join(f"{k} x{v}" for k, v in sorted(paths[n].items()))
         or "-"),
        ("TCP throughput" + (" median" if args.tput_runs > 1 else ""), lambda n: (
            f"{statistics.median(tput[n]):.2f} Gb/s" if tput[n]
            else ("not run" if args.seconds <= 0 else "failed"))),
        ("login+register median", lambda n: col(n, "login_ms", "median")),
    ]
    if args.tput_runs > 1 and args.seconds > 0:
        rows.insert(-1, ("TCP throughput min-max", lambda n: (
            f"{min(tput[n]):.2f}-{max(tput[n]):.2f} Gb/s" if tput[n] else "-")))
    names = list(samples)
    head = {"direct": f"direct ({args.direct}<->{args.direct})",
            "relay": "relay (global4<->v6only)"}
    print()
    print(f"ntmobile control plane, {args.runs} set-up runs per pair (resolve call -> first "
          f"byte echoed, client's monotonic clock), TCP {args.seconds:g} s per pair, "
          f"virtual IPv{args.virtual}")
    print(f"{'':24}" + "".join(f"{head[n]:28}" for n in names))
    for label, f in rows:
        print(f"{label:24}" + "".join(f"{f(n):28}" for n in names))
    ok = all(samples[n] for n in names) and (args.seconds <= 0 or all(tput[n] for n in names))
    print(f"(load average at the end: {os.getloadavg()[0]:.1f}; on a busy machine expect wider "
          f"spreads)")
    if failures:
        print(f"\n{failures} run(s) failed (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
