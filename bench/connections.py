#!/usr/bin/env python3
"""Memory per idle TCP connection on one node, and how long opening them takes.

    python3 bench/connections.py [--build build] [--count 10000]

Two nodes on loopback in static-peer mode (tests/integration's ntm-stack-node, scenario
"many"): the client opens --count connections to the server, which accepts them all and holds
them idle, then each carries 4 bytes each way. Prints the server's resident set size before and
with the connections open, the RSS per idle connection, lwIP's heap per connection (stats
memory_used) and the time to connect them all. No root needed; everything it starts is ended by
PID. Exit status 1 if a node failed.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time


def keypair(build: str) -> tuple:
    out = subprocess.run([os.path.join(build, "examples", "c", "ntm-keygen")], check=True,
                         capture_output=True, text=True).stdout.split()
    return out[0], out[1]


def fields(line: str) -> dict:
    return dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.environ.get("NTM_BUILD_DIR", "build"))
    ap.add_argument("--count", type=int, default=10000)
    o = ap.parse_args()
    build = os.path.abspath(o.build)
    node = os.path.join(build, "tests", "integration", "ntm-stack-node")
    server_key, client_key = keypair(build), keypair(build)
    common = ["--listen", "127.0.0.1:0", "--count", str(o.count), "--timeout", "300"]
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    server = subprocess.Popen(
        [node, "many", "--role", "server", "--name", "bob.bench", "--key", server_key[0],
         "--vip4", "100.64.0.2", "--peer", f"alice.bench,{client_key[1]},,100.64.0.1,",
         "--max-per-peer", str(o.count * 2), *common], stdout=subprocess.PIPE, text=True)
    client = None
    try:
        ready = server.stdout.readline()
        if not ready.startswith("READY"):
            print(f"server did not start: {ready.strip()}", file=sys.stderr)
            return 1
        endpoint = fields(ready)["endpoint_v4"]
        started = time.monotonic()
        client = subprocess.Popen(
            [node, "many", "--role", "client", "--name", "alice.bench", "--key", client_key[0],
             "--vip4", "100.64.0.1", "--peer", f"bob.bench,{server_key[1]},{endpoint},100.64.0.2,",
             "--connect", "bob.bench:5000", *common], stdout=subprocess.PIPE, text=True)
        c = client.stdout.readline()
        s = server.stdout.readline()
        if not c.startswith("RESULT") or not s.startswith("RESULT"):
            print(f"no result: client {c.strip()!r}, server {s.strip()!r}", file=sys.stderr)
            return 1
        c, s = fields(c), fields(s)
        n = int(s["accepted"])
        print(f"connections.py: {n} idle TCP connections on one node (load {load})")
        print(f"  server RSS        {int(s['rss_start_kib']) / 1024:8.1f} MiB before, "
              f"{int(s['rss_idle_kib']) / 1024:8.1f} MiB with them open")
        print(f"  RSS per idle connection   {int(s['rss_per_connection_bytes']):6d} bytes")
        print(f"  lwIP heap per connection  {int(s['memory_used']) // max(n, 1):6d} bytes "
              f"(memory_used {int(s['memory_used']) / 1048576:.1f} MiB)")
        print(f"  connected in {float(c['connect_ms']) / 1000:.1f} s, all verified "
              f"({c['verified']}/{c['connected']}) in {time.monotonic() - started:.1f} s")
        return 0 if int(c["verified"]) == o.count else 1
    finally:
        for p in (client, server):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()


if __name__ == "__main__":
    sys.exit(main())
