#!/usr/bin/env python3
"""Each binding's speed next to the C API's, measured in one run on this machine.

    python3 bench/bindings.py [--build build] [--mib 256] [--rtts 2000] [--rounds 3]
                              [--only c,python,python-bridge,ruby,java]

The server is always the same C program (ntm-bench's server role: a TCP sink that answers the
byte count once the stream ends, and a UDP echo), started afresh for every measurement as a
second node on loopback (static peers, real UDP on 127.0.0.1, AES-256-GCM). The client is, in
turn, the C API itself (ntm-bench's client role) and the same client written with each binding
(bench/bindings/client.py, client.rb, BenchClient.java): one TCP stream of --mib MiB in 1 MiB
writes, timed from the first write to the sink's count; then --rtts UDP round trips of 64 bytes
after 200 warm-up ones (a datagram not answered within 1 s is counted lost). "python-bridge" is
the Python client receiving UDP through its socket's fileno() (the datagram bridge that
selectors and asyncio use) instead of the direct call.

Rounds interleave the clients (C, Python, ..., C, Python, ...), so a change of machine load
hits all of them alike; the table shows each client's median round, its ratio to C's, and the
issue's targets: TCP >= 80% of C's throughput, UDP round trip within 1.5x of C's.
Needs the build (ntm-bench), ntmobile installed for this Python (ci/bindings.sh python), the
Ruby extension compiled (ci/bindings.sh ruby) and the jar (ci/bindings.sh java). Exits non-zero
if a measurement failed (not if a target is missed: speed is reported, not asserted).
"""

from __future__ import annotations

import argparse
import glob
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent / "bindings"
CLIENTS = ("c", "python", "python-bridge", "ruby", "java")
LABELS = {
    "c": "C API (ntm-bench)",
    "python": "Python",
    "python-bridge": "Python, UDP via fileno()",
    "ruby": "Ruby",
    "java": "Java",
}
SERVER_V4, CLIENT_V4 = "100.64.0.2", "100.64.0.1"
RUN_TIMEOUT_S = 300


def keypair(ntm_cli: Path) -> tuple[str, str]:
    """A fresh X25519 key pair from `ntm keygen` (private, public)."""
    out = subprocess.run([str(ntm_cli), "keygen"], check=True, capture_output=True, text=True).stdout
    fields = dict(line.split(None, 1) for line in out.splitlines() if line.strip())
    return fields["private_key"].strip(), fields["public_key"].strip()


def java_classpath() -> Optional[str]:
    jars = [j for j in sorted(glob.glob(str(ROOT / "bindings/java/target/ntmobile-*.jar")))
            if not j.endswith(("-sources.jar", "-javadoc.jar"))]
    if not jars:
        return None
    extra = [str(ROOT / "bindings/java/target/lib/*")]
    return os.pathsep.join([jars[-1], *extra])


def client_command(client: str, build: Path, args: argparse.Namespace, key: str, server_key: str,
                   endpoint: str) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    common = ["--key", key, "--server-key", server_key, "--endpoint", endpoint,
              "--mib", str(args.mib), "--rtts", str(args.rtts), "--warmup", str(args.warmup)]
    if client == "c":
        return [str(build / "bench/ntm-bench"), "client", "--stack", "ntm",
                "--tcp", f"{SERVER_V4}:5201", "--udp", f"{SERVER_V4}:5202",
                "--name", "bench-client.test", "--key", key, "--vip4", CLIENT_V4,
                "--listen", "127.0.0.1:0",
                "--peer", f"bench-server.test,{server_key},{endpoint},{SERVER_V4},",
                "--seconds", "100000", "--max-bytes", str(args.mib << 20),
                "--rtts", str(args.rtts), "--warmup", str(args.warmup), "--size", "64"], env
    if client in ("python", "python-bridge"):
        bridge = ["--udp-bridge"] if client == "python-bridge" else []
        return [sys.executable, str(HERE / "client.py"), *common, *bridge], env
    if client == "ruby":
        ruby = ROOT / "bindings/ruby"
        return ["ruby", "-I", str(ruby / "lib"), "-I", str(ruby / "tmp/lib"),
                str(HERE / "client.rb"), *common], env
    if client == "java":
        classpath = java_classpath()
        if classpath is None:
            raise RuntimeError("no bindings/java/target/ntmobile-*.jar: run ci/bindings.sh java")
        env["NTM_LIBRARY"] = str(build / "c-api")
        return ["java", "-cp", classpath, str(HERE / "BenchClient.java"), *common], env
    raise ValueError(client)


def parse(line: str) -> dict[str, str]:
    return dict(field.split("=", 1) for field in line.split()[1:] if "=" in field)


def measure(client: str, build: Path, args: argparse.Namespace) -> dict[str, float]:
    """One round of one client against a fresh C server; its RESULT fields as numbers."""
    ntm_cli = build / "cli/ntm"
    server_private, server_public = keypair(ntm_cli)
    client_private, client_public = keypair(ntm_cli)
    server = subprocess.Popen(
        [str(build / "bench/ntm-bench"), "server", "--stack", "ntm", "--name", "bench-server.test",
         "--key", server_private, "--vip4", SERVER_V4, "--listen", "127.0.0.1:0",
         "--peer", f"bench-client.test,{client_public},,{CLIENT_V4},"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        ready = server.stdout.readline()  # ntm-bench's server prints READY first (or ERROR)
        if not ready.startswith("READY"):
            raise RuntimeError(f"the C server did not start: {ready.strip()}")
        endpoint = parse(ready)["endpoint"]
        argv, env = client_command(client, build, args, client_private, server_public, endpoint)
        result = subprocess.run(argv, env=env, capture_output=True, text=True,
                                timeout=RUN_TIMEOUT_S)
        lines = [l for l in result.stdout.splitlines() if l.startswith("RESULT")]
        if result.returncode != 0 or not lines:
            raise RuntimeError(f"{client} client failed (exit {result.returncode}):\n"
                               f"{result.stdout[-2000:]}{result.stderr[-2000:]}")
        fields = parse(lines[-1])
        if client == "c":  # ntm-bench reports Gb/s
            fields["tcp_mibps"] = str(float(fields["tcp_gbps"]) * 1e9 / 8 / (1 << 20))
        return {k: float(fields[k]) for k in ("tcp_mibps", "udp_median_us", "udp_p99_us", "udp_lost")}
    finally:
        try:
            server.wait(timeout=10)  # it exits after the client's 'Q' datagram
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--mib", type=int, default=256, help="MiB per TCP stream (default 256)")
    parser.add_argument("--rtts", type=int, default=2000, help="UDP round trips (default 2000)")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default=",".join(CLIENTS),
                        help=f"comma-separated clients (default all: {','.join(CLIENTS)})")
    args = parser.parse_args()
    build = Path(args.build).resolve()
    clients = [c for c in args.only.split(",") if c]
    unknown = [c for c in clients if c not in CLIENTS]
    if unknown or "c" not in clients:
        parser.error(f"--only: clients among {', '.join(CLIENTS)}, c included (the baseline)")
    for needed in ("bench/ntm-bench", "cli/ntm"):
        if not (build / needed).exists():
            parser.error(f"{build / needed} not found: build the repository first")

    results: dict[str, list[dict[str, float]]] = {c: [] for c in clients}
    failures: list[str] = []
    started = time.monotonic()
    for round_number in range(1, args.rounds + 1):
        for client in clients:
            try:
                results[client].append(measure(client, build, args))
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                failures.append(f"round {round_number}, {client}: {error}")
                print(f"bindings bench: FAILED round {round_number}, {client}: {error}",
                      file=sys.stderr)

    load = os.getloadavg()[0]
    print(f"bench/bindings.py: {args.rounds} round(s), {args.mib} MiB per TCP stream, "
          f"{args.rtts} UDP round trips of 64 B; load {load:.1f}, {os.cpu_count()} CPUs, "
          f"{time.monotonic() - started:.0f} s")
    print(f"{'client':<27} {'TCP MiB/s':>10} {'vs C':>6} {'UDP RTT median':>15} {'p99':>8} "
          f"{'vs C':>6} {'lost':>5}  targets (TCP >= 80%, RTT <= 1.5x)")
    baseline = median_of(results["c"])
    for client in clients:
        row = median_of(results[client])
        if row is None:
            print(f"{LABELS[client]:<27} {'failed':>10}")
            continue
        tcp_ratio = row["tcp_mibps"] / baseline["tcp_mibps"] if baseline else float("nan")
        rtt_ratio = row["udp_median_us"] / baseline["udp_median_us"] if baseline else float("nan")
        verdict = "" if client == "c" else (
            f"TCP {'met' if tcp_ratio >= 0.8 else 'MISSED'}, RTT {'met' if rtt_ratio <= 1.5 else 'MISSED'}")
        print(f"{LABELS[client]:<27} {row['tcp_mibps']:>10.1f} {tcp_ratio:>5.0%} "
              f"{row['udp_median_us']:>12.1f} us {row['udp_p99_us']:>8.1f} {rtt_ratio:>5.2f}x "
              f"{row['udp_lost']:>5.0f}  {verdict}")
    return 1 if failures else 0


def median_of(rounds: list[dict[str, float]]) -> Optional[dict[str, float]]:
    if not rounds:
        return None
    return {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}


if __name__ == "__main__":
    raise SystemExit(main())
